"""The issue's browser flows, in Debian's Chromium against a real `medianest serve` with a generated library:
first-run setup and sign-in, search and play audio, seek a video with the browser's own Range requests, build
and reorder a playlist, a download to 100 % that lands in the library, and a private playlist kept private.
Each flow's main page is saved to tests/artifacts/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Page, Response, expect

from tests.conftest import PASSWORD
from tests.liveserver import LiveServer
from tests.web.conftest import WebMedia, allow_console_errors, api_token, create_user, shot, sign_in

# Generous: CI machines are slow and noisy; these are waits for something to happen, not timings.
WAIT_MS = 30_000


def _api(server: LiveServer, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else server.headers()
    r = httpx.request(method, f"{server.base_url}/api/v1{path}", headers=headers, **kw)
    assert r.is_success, r.text
    return r.json()["data"] if r.content else None


def _titles(page: Page, scope: str = "[data-testid=media-list]") -> list[str]:
    item = f"{scope} [data-testid=media-item]"
    return page.locator(f"{item} .row-title, {item} .card-title").all_inner_texts()


def test_first_run_creates_the_admin_then_signs_in_and_out(fresh_server: LiveServer,
                                                           new_page: Callable[..., Page]) -> None:
    page = new_page(fresh_server.base_url)
    page.goto("/")
    expect(page).to_have_url(re.compile("#/setup$"))
    page.locator("input[name=username]").fill("owner")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=again]").fill(PASSWORD + "x")
    page.locator("button[type=submit]").click()
    expect(page.get_by_test_id("form-error")).to_have_text("The two passwords differ.")
    page.locator("input[name=again]").fill(PASSWORD)
    shot(page, "setup")
    page.locator("button[type=submit]").click()
    expect(page.get_by_test_id("nav")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_contain_text("owner")
    # The admin's own pages are in the navigation.
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    assert httpx.get(f"{fresh_server.base_url}/api/v1/auth/setup").json()["data"] == {"required": False}

    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(re.compile("#/login$"))
    page.goto("/#/setup")  # done once: the setup page now sends people to sign in
    expect(page).to_have_url(re.compile("#/login$"))

    allow_console_errors(page, r"status of 401")  # the browser's own line for the refused password
    page.locator("input[name=username]").fill("owner")
    page.locator("input[name=password]").fill("not the password")
    page.locator("button[type=submit]").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(page.get_by_test_id("form-error")).not_to_be_empty()
    shot(page, "sign-in-error")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page.get_by_test_id("nav")).to_be_visible()
    expect(page.get_by_test_id("media-item").first).to_be_visible()


def test_search_as_you_type_then_play_audio_to_the_end(page: Page, web_server: LiveServer) -> None:
    sign_in(page)
    expect(page.get_by_test_id("media-item").first).to_be_visible()
    page.get_by_test_id("global-search").press_sequentially("circ", delay=40)
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")
    expect(page.get_by_test_id("media-item")).to_have_count(1)
    shot(page, "library-search")
    page.get_by_test_id("media-item").click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Circle")
    audio = page.get_by_test_id("audio")
    audio.evaluate("a => new Promise(ok => a.currentTime > 0.5 ? ok() : a.addEventListener('timeupdate', "
                   "function t() { if (a.currentTime > 0.5) { a.removeEventListener('timeupdate', t); ok(); } }))")
    assert audio.evaluate("a => a.currentTime") > 0.5
    assert audio.evaluate("a => a.src").startswith(f"{web_server.base_url}/api/v1/media/")
    shot(page, "now-playing")
    # The 3 s track ends; the play is reported to the API (completed) and counted.
    audio.evaluate("a => a.ended || new Promise(ok => a.addEventListener('ended', ok, {once: true}))")
    token = api_token(web_server, "admin")

    def played() -> int:
        return int(_api(web_server, "GET", "/media", token, params={"q": "circle"})[0]["play_count"])

    expect(page.get_by_test_id("play-pause")).to_have_attribute("aria-label", "Play")  # stopped at the end
    _eventually(played, 1)


def _eventually(fn: Callable[[], Any], want: Any, tries: int = 100) -> None:
    """What the browser sends in the background (a play report) arrives soon, not at once."""
    for _ in range(tries):
        if fn() == want:
            return
        time.sleep(0.3)
    assert fn() == want


def test_seeking_a_video_uses_the_browsers_own_range_requests(page: Page, web_server: LiveServer) -> None:
    streamed: list[Response] = []
    page.on("response", lambda r: "/stream?" in r.url and streamed.append(r))
    sign_in(page)
    page.goto("/#/library?kind=video&q=motion")
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")  # the filtered list, not the one before
    page.get_by_test_id("media-item").click()
    expect(page).to_have_url(re.compile(r"#/watch/\d+$"))
    video = page.get_by_test_id("stage").locator("video")
    expect(video).to_be_visible()
    video.evaluate("v => v.readyState >= 1 || new Promise(ok => v.addEventListener('loadedmetadata', ok, {once: 1}))")
    video.evaluate("v => v.pause()")
    duration = video.evaluate("v => v.duration")
    assert 2 < duration < 5  # the 3 s fixture
    video.evaluate("v => { window.__seeked = 0; v.addEventListener('seeked', () => window.__seeked++); }")
    page.get_by_test_id("seek").fill("700")  # the player bar's seek slider: 70 %
    page.wait_for_function("() => window.__seeked > 0")
    position = video.evaluate("v => v.currentTime")
    assert abs(position - 0.7 * duration) < 0.3, position
    shot(page, "watch")
    ranged = [r for r in streamed if r.request.headers.get("range")]
    assert ranged, [r.request.headers for r in streamed]
    assert all(r.status == 206 for r in ranged)
    assert all(re.fullmatch(r"bytes \d+-\d+/\d+", r.headers["content-range"]) for r in ranged)


def _add_to_playlist(page: Page, title: str, playlist: str, new: bool) -> None:
    page.goto(f"/#/library?q={title}")
    item = page.get_by_test_id("media-item").filter(has_text=title).first
    item.get_by_test_id("item-menu").click()
    page.get_by_role("menuitem", name="Add to playlist…").click()
    dialog = page.locator("dialog[open]")
    if new:
        dialog.get_by_test_id("playlist-choice").select_option("__new")
        dialog.locator("input[name=name]").fill(playlist)
    else:
        dialog.get_by_test_id("playlist-choice").select_option(label=playlist)
    dialog.get_by_role("button", name="Add").click()
    expect(page.locator(".toast").filter(has_text=f"Added to “{playlist}”").last).to_be_visible()


def test_create_a_playlist_add_items_from_their_menus_and_drag_to_reorder(page: Page, web_server: LiveServer) -> None:
    sign_in(page)
    _add_to_playlist(page, "Jóga", "Road Trip", new=True)
    _add_to_playlist(page, "Circle", "Road Trip", new=False)
    _add_to_playlist(page, "Square", "Road Trip", new=False)
    page.goto("/#/playlists")
    page.get_by_test_id("playlist-tile").filter(has_text="Road Trip").click()
    rows = page.get_by_test_id("playlist-items")
    expect(rows.get_by_test_id("media-item")).to_have_count(3)
    assert _titles(page, "[data-testid=playlist-items]") == ["Jóga", "Circle", "Square"]
    # Drag "Square" onto the top half of "Jóga": it moves to the front.
    square = rows.get_by_test_id("media-item").nth(2)
    joga = rows.get_by_test_id("media-item").nth(0)
    square.drag_to(joga, target_position={"x": 40, "y": 3})
    expect(rows.get_by_test_id("media-item").first).to_contain_text("Square")
    shot(page, "playlist")
    page.reload()  # what the server kept, not just what the page shows
    expect(rows.get_by_test_id("media-item")).to_have_count(3)
    assert _titles(page, "[data-testid=playlist-items]") == ["Square", "Jóga", "Circle"]
    pid = page.url.rsplit("/", 1)[1]
    kept = _api(web_server, "GET", f"/playlists/{pid}")
    order = sorted(kept["items"], key=lambda i: i["position"])
    assert [i["media"]["title"] for i in order] == ["Square", "Jóga", "Circle"]
    # Rename from the Edit dialog.
    page.get_by_test_id("edit-playlist").click()
    page.locator("dialog[open] input[name=name]").fill("Road Trip 2026")
    page.locator("dialog[open]").get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("playlist-name")).to_have_text("Road Trip 2026")
    assert _api(web_server, "GET", f"/playlists/{pid}")["name"] == "Road Trip 2026"


def test_a_download_shows_live_progress_to_100_and_lands_in_the_library(
        page: Page, web_server: LiveServer, media_server: WebMedia) -> None:
    sign_in(page)
    page.goto("/#/downloads")
    page.get_by_test_id("download-url").fill(media_server.page_url)  # a video site's page, as people paste
    page.get_by_test_id("download-preview").click()
    expect(page.get_by_text(media_server.title).first).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("download-start").click()
    row = page.get_by_test_id("download-row").first
    # A wait, not a timing check: yt-dlp's child, the remux, the probe and the thumbnail take ~4 s on an idle
    # machine and over 40 s on a CI machine running four test workers on two cores.
    expect(row.get_by_test_id("download-status")).to_have_text("completed", timeout=3 * WAIT_MS)
    expect(row.get_by_test_id("download-progress")).to_have_attribute("data-percent", re.compile(r"^100(\.0+)?$"))
    shot(page, "downloads")
    row.get_by_test_id("download-open").click()
    # A video: its page opens and plays it.
    expect(page).to_have_url(re.compile(r"#/watch/\d+$"))
    expect(page.locator("h1")).to_have_text(media_server.title)
    page.goto(f"/#/library?q={media_server.title}")
    expect(page.get_by_test_id("media-item").filter(has_text=media_server.title)).to_have_count(1)


def test_a_second_user_cannot_see_the_first_ones_private_playlist(
        new_page: Callable[..., Page], web_server: LiveServer) -> None:
    secret = _api(web_server, "POST", "/playlists", json={"name": "Admin Secret Mix", "is_public": False})
    shared = _api(web_server, "POST", "/playlists", json={"name": "Admin Shared Mix", "is_public": True})
    create_user(web_server, "bob")
    bob = new_page()
    sign_in(bob, "bob")
    bob.goto("/#/playlists")
    expect(bob.get_by_test_id("playlist-tile").filter(has_text="Admin Shared Mix")).to_have_count(1)
    expect(bob.get_by_test_id("playlist-tile").filter(has_text="Admin Secret Mix")).to_have_count(0)
    shot(bob, "playlists-as-second-user")
    allow_console_errors(bob, r"status of 404")  # the browser's own line for the refused playlist
    bob.goto(f"/#/playlists/{secret['id']}")
    expect(bob.get_by_role("alert")).to_contain_text("not found", ignore_case=True)
    expect(bob.get_by_text("Admin Secret Mix")).to_have_count(0)
    # The shared one opens, read-only: no edit or delete for bob.
    bob.goto(f"/#/playlists/{shared['id']}")
    expect(bob.get_by_test_id("playlist-name")).to_have_text("Admin Shared Mix")
    expect(bob.get_by_test_id("edit-playlist")).to_have_count(0)


def test_sign_in_with_plex_approves_the_pin_and_signs_in(new_page: Callable[..., Page], web_server: LiveServer) -> None:
    person = web_server.plextv.add_user("plexfan")
    page = new_page()
    page.goto("/#/login")
    # The approval window goes to app.plex.tv, which the test browser cannot reach (a closed proxy).
    allow_console_errors(page, r"ERR_|app\.plex\.tv")
    with page.expect_popup() as opened:
        page.get_by_test_id("plex-sign-in").click()
    assert opened.value.url.startswith("https://app.plex.tv/auth") or opened.value.url == "about:blank"
    code = page.get_by_test_id("plex-status").locator("strong")
    expect(code).to_have_text(re.compile(r"^\w{4,}$"))
    web_server.plextv.authorize(code.inner_text(), person)  # the person approves at plex.tv
    expect(page.get_by_test_id("nav")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("user-menu")).to_contain_text("plexfan")
    if not opened.value.is_closed():  # the page closes the approval window once signed in
        opened.value.wait_for_event("close")
