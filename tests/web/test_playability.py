"""What the player does with media the browser does not decode, or that cannot play at all, in the real Chromium
at phone size: a format the browser does not decode (WMA, ALAC in an .m4a, made by ffmpeg) plays, transcoded by
the server, with nothing saying it cannot; a file that fails while loading (gone, or corrupt since the scan) says
so once, in the server's words when it has some, and the queue does not move on by itself; an item whose media
folder is offline is listed greyed with an "Offline" badge and its reason, and does not play.

The server here has two media folders: the usual library (plus the odd formats) and `away`, which the offline
test takes away before a rescan, as an unmounted share would be."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.liveserver import LiveServer, rescan, serve
from tests.media import tone
from tests.web.conftest import WEB_ENV, allow_console_errors, shot, sign_in

SLOW = "el => { el.defaultPlaybackRate = 0.0625; el.playbackRate = 0.0625; }"
# The player used to move on 0.8 s after a failure; watching this long shows that nothing follows the one
# message. A wait for something that must not happen, not a timing check.
SETTLE_MS = 3_000
# Every toast shown from now on, kept after it fades.
RECORD_TOASTS = """() => {
    window.__toasts = [];
    new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
        if (n.classList?.contains("toast")) window.__toasts.push(n.textContent);
    }))).observe(document.getElementById("toasts"), { childList: true });
}"""
AWAY_TITLE = "Away Song"
# The player module main.js loaded (one instance per URL), as window.__player: a predicate polled by
# wait_for_function must be synchronous.
EXPOSE_PLAYER = "import('/static/js/player.js').then(p => { window.__player = p; })"


@pytest.fixture(scope="module")
def odd_server(tmp_path_factory: pytest.TempPathFactory,
               media_source: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("odd")
    away = tone(root / "away" / f"{AWAY_TITLE}.mp3", "libmp3lame", AWAY_TITLE).parent
    folders = os.pathsep.join([str(root / "media"), str(away)])  # serve() copies the library to root/media
    with serve(root, media_source[0], extra_env={**WEB_ENV, "MEDIANEST_MEDIA_DIRS": folders}) as server:
        odd = server.media_dir / "Odd"
        tone(odd / "Windows Tune.wma", "wmav2", "Windows Tune")
        tone(odd / "Lossless Tune.m4a", "alac", "Lossless Tune")
        tone(odd / "Vanishing Tune.mp3", "libmp3lame", "Vanishing Tune")
        tone(odd / "Spoiled Tune.m4a", "alac", "Spoiled Tune")
        assert rescan(server)["status"] == "completed"
        yield server


def _item(server: LiveServer, title: str) -> dict[str, Any]:
    r = httpx.get(f"{server.base_url}/api/v1/media", params={"q": title}, headers=server.headers())
    found = [m for m in r.json()["data"] if m["title"] == title]
    assert found, (title, r.json()["data"])
    return found[0]


def _playing_circle(page: Page) -> str:
    """Start "Circle" (slowed down) from the audio list; returns the audio element's src."""
    page.goto("/#/library?kind=audio&sort=title")
    page.get_by_test_id("audio").evaluate(SLOW)
    page.get_by_test_id("media-item").filter(has_text="Circle").click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Circle")
    audio = page.get_by_test_id("audio")
    audio.evaluate("a => a.currentTime > 0 || new Promise(ok => a.addEventListener('timeupdate', ok, {once: true}))")
    src: str = audio.evaluate("a => a.src")
    return src


def _toasts_after(page: Page, action: Callable[[], None]) -> list[str]:
    """Every message shown after `action`, once the first is up and the page has settled."""
    page.evaluate(RECORD_TOASTS)
    action()
    page.wait_for_function("() => window.__toasts.length > 0")
    page.wait_for_timeout(SETTLE_MS)
    toasts: list[str] = page.evaluate("window.__toasts")
    return toasts


@pytest.mark.parametrize("title", ["Windows Tune", "Lossless Tune"], ids=["wma", "alac"])
def test_a_format_the_browser_does_not_decode_plays_transcoded(new_page: Callable[..., Page],
                                                               odd_server: LiveServer, title: str) -> None:
    page = new_page(odd_server.base_url, phone=True)
    sign_in(page)
    _playing_circle(page)
    row = page.get_by_test_id("media-item").filter(has_text=title)
    assert row.get_attribute("title") is None  # nothing says it cannot play
    page.evaluate(RECORD_TOASTS)
    page.evaluate(EXPOSE_PLAYER)
    row.click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text(title)
    # The browser decodes what the server sends in its place, and plays it.
    page.wait_for_function("""() => {
        const p = window.__player, a = p.element(), d = p.playback();
        return d && a.currentSrc.endsWith(d.url) && a.webkitAudioDecodedByteCount > 0 && a.currentTime > 0
            && !a.paused;
    }""", timeout=60_000, polling=100)
    decision = page.evaluate("window.__player.playback()")
    assert decision["method"] == "transcode" and decision["protocol"] in ("progressive", "file"), decision
    shot(page, f"phone-transcoded-{title.split()[0].lower()}")
    assert page.evaluate("window.__toasts") == []


def test_a_file_failing_to_load_says_so_once_and_nothing_else_plays(new_page: Callable[..., Page],
                                                                    odd_server: LiveServer) -> None:
    page = new_page(odd_server.base_url, phone=True)
    allow_console_errors(page, r"status of (404|503)")  # the browser's own line for the missing file
    sign_in(page)
    page.goto("/#/library?kind=audio&sort=title")
    expect(page.get_by_test_id("media-item").filter(has_text="Vanishing Tune")).to_be_visible()
    (odd_server.media_dir / "Odd" / "Vanishing Tune.mp3").unlink()  # gone after the list was drawn
    page.get_by_test_id("audio").evaluate(SLOW)
    row = page.get_by_test_id("media-item").filter(has_text="Vanishing Tune")
    toasts = _toasts_after(page, lambda: row.click())
    shot(page, "phone-failed-to-load")
    assert len(toasts) == 1, toasts
    assert "Vanishing Tune" in toasts[0], toasts
    # The queue (the whole list) did not move on to another item by itself.
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Vanishing Tune")
    assert page.get_by_test_id("audio").evaluate("a => a.paused")


def test_a_file_corrupt_since_the_scan_says_why_once_and_stays(new_page: Callable[..., Page],
                                                               odd_server: LiveServer) -> None:
    title = "Spoiled Tune"
    page = new_page(odd_server.base_url, phone=True)
    allow_console_errors(page, r"status of (4\d\d|5\d\d)")  # the browser's own line for the refused request
    sign_in(page)
    page.goto("/#/library?kind=audio&sort=title")
    row = page.get_by_test_id("media-item").filter(has_text=title)
    expect(row).to_be_visible()
    (odd_server.media_dir / "Odd" / f"{title}.m4a").write_bytes(os.urandom(64 * 1024))  # a bad disk, a bad copy
    item = _item(odd_server, title)
    answer = httpx.get(f"{odd_server.base_url}/api/v1/media/{item['id']}/playback", headers=odd_server.headers())
    page.get_by_test_id("audio").evaluate(SLOW)
    toasts = _toasts_after(page, lambda: row.click())
    shot(page, "phone-corrupt")
    assert len(toasts) == 1, toasts
    assert title in toasts[0], toasts
    if answer.is_error:  # the server knew: its words, not a guess
        assert answer.json()["error"]["message"] in toasts[0], (answer.text, toasts)
    expect(page.get_by_test_id("now-playing-title")).to_have_text(title)
    assert page.get_by_test_id("audio").evaluate("a => a.paused")


def test_an_offline_item_is_listed_greyed_with_its_reason_and_does_not_play(new_page: Callable[..., Page],
                                                                            odd_server: LiveServer) -> None:
    item = _item(odd_server, AWAY_TITLE)
    api, auth = f"{odd_server.base_url}/api/v1", odd_server.headers()
    playlist = httpx.post(f"{api}/playlists", json={"name": "Away Mix"}, headers=auth).json()["data"]
    r = httpx.post(f"{api}/playlists/{playlist['id']}/items", json={"media_id": item["id"]}, headers=auth)
    assert r.is_success, r.text
    shutil.rmtree(odd_server.media_dir.parent / "away")  # the share is not mounted any more
    rescan(odd_server)
    item = _item(odd_server, AWAY_TITLE)
    assert item["available"] is False and item["unavailable_reason"], item

    page = new_page(odd_server.base_url, phone=True)
    sign_in(page)
    page.evaluate("localStorage.setItem('medianest.view', 'list')")
    page.goto("/#/library?q=away")
    row = page.get_by_test_id("media-item").filter(has_text=AWAY_TITLE)
    expect(row.get_by_test_id("offline-badge")).to_have_text("Offline")
    expect(row).to_have_attribute("title", f"“{AWAY_TITLE}” cannot be played. {item['unavailable_reason']}")
    assert row.evaluate("el => getComputedStyle(el.querySelector('.row-art')).filter").startswith("grayscale")
    shot(page, "phone-offline-item")
    toasts = _toasts_after(page, lambda: row.click())
    assert len(toasts) == 1, toasts
    assert item["unavailable_reason"] in toasts[0], toasts
    expect(page.locator("#player")).to_be_hidden()
    assert page.get_by_test_id("audio").evaluate("a => a.getAttribute('src')") is None
    # Its menu says why first, and offers nothing that would fail.
    row.get_by_test_id("item-menu").click()
    expect(page.get_by_test_id("menu-note")).to_contain_text(item["unavailable_reason"])
    for action in ("Play", "Play next", "Add to queue", "Download file"):
        expect(page.get_by_role("menuitem", name=action, exact=True)).to_have_count(0)
    shot(page, "phone-offline-menu")
    # Still in its playlist, marked the same way.
    page.goto(f"/#/playlists/{playlist['id']}")
    expect(page.get_by_test_id("media-item").filter(has_text=AWAY_TITLE).get_by_test_id("offline-badge")).to_be_visible()
