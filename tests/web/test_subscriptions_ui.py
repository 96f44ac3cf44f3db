"""The subscriptions page in Chromium, against a live server and two stand-ins on 127.0.0.1: a podcast feed
server (tests/subscriptions/feedserver.py) whose episodes are real mp3 files on a media server. A podcast is
followed in audio mode with a backfill of one: its first check ends, its newest episode downloads (seen on the
downloads page), a new episode appears and "Check now" finds it; the rule is edited (a bad interval refused under
its field, keep_last saved and then pruning); the private feed URL is copied, read as RSS and replaced; the
subscription is paused and deleted, its media staying. And the API's errors land next to the field they concern,
while a name full of markup is shown as text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.downloads.mediaserver import MediaServer, make_audio
from tests.liveserver import LiveServer, serve
from tests.loopback import http
from tests.subscriptions.feedserver import Episode, FeedServer
from tests.web.conftest import WEB_ENV, allow_console_errors, shot, sign_in

SHOW = "/nest-talk.xml"
DOWNLOAD_MS = 90_000  # a download, its conversion and the scan on a loaded machine: a wait, not a timing check
HTML_NAME = "<img src=x onerror=\"window.__xss = 1\"> & <b>bold</b>"


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    root = tmp_path_factory.mktemp("episodes")
    with MediaServer() as media:
        for n in (1, 2, 3):
            media.add_file(f"/media/ep{n}.mp3", make_audio(root / f"ep{n}.mp3", seconds=1, title=f"Episode {n}"),
                           "audio/mpeg")
        yield media


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="module")
def subs_server(tmp_path_factory: pytest.TempPathFactory, media_source: tuple[Path, dict[str, str]],
                ) -> Iterator[LiveServer]:
    """A server of this module's own, so its downloads list holds only what these subscriptions queued."""
    with serve(tmp_path_factory.mktemp("subscriptions-ui"), media_source[0], extra_env=WEB_ENV) as server:
        yield server


def episode(media: MediaServer, n: int) -> Episode:
    return Episode(guid=f"nest-{n}", title=f"Episode {n}: Nests", url=media.url(f"/media/ep{n}.mp3"),
                   published=datetime.now(UTC) - timedelta(days=10 - n), description=f"Notes of episode {n}.")


def api_get(server: LiveServer, path: str) -> Any:
    r = http().get(f"{server.base_url}/api/v1{path}", headers=server.headers())
    assert r.status_code == 200, r.text
    return r.json()["data"]


def clipboard(page: Page) -> str:
    text: str = page.evaluate("navigator.clipboard.readText()")
    return text


def count(row: Locator, state: str) -> Locator:
    return row.get_by_test_id("sub-counts").locator(f"[data-state={state}]")


def test_follow_a_podcast_check_it_edit_its_rule_and_unsubscribe(
        new_page: Callable[..., Page], subs_server: LiveServer, feeds: FeedServer, episodes: MediaServer) -> None:
    url = feeds.add_feed(SHOW, "Nest Talk", "Ada Host")
    for n in (1, 2):
        feeds.add_episode(SHOW, episode(episodes, n))
    page = new_page(subs_server.base_url, permissions=["clipboard-read", "clipboard-write"])
    allow_console_errors(page, r"status of 422")  # the interval refused below: the browser logs the answer
    sign_in(page)
    nav = page.get_by_test_id("nav")
    nav.get_by_role("link", name="Subscriptions").click()
    expect(page.locator("main h1")).to_have_text("Subscriptions")
    expect(nav.get_by_role("link", name="Subscriptions")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("You follow nothing yet.")).to_be_visible()

    page.get_by_test_id("sub-url").fill(url)
    page.get_by_test_id("sub-mode-audio").check()
    expect(page.get_by_test_id("sub-quality")).to_be_hidden()  # audio: a format, not a quality
    page.get_by_test_id("sub-format").select_option("mp3")
    page.get_by_test_id("sub-backfill").fill("1")
    page.get_by_test_id("sub-add").click()

    row = page.get_by_test_id("sub-row")
    expect(row).to_have_count(1)
    expect(page.locator(".toast").last).to_contain_text(
        "First check of “Nest Talk” done: 2 found, 1 sent to downloads.", timeout=DOWNLOAD_MS)
    expect(row.get_by_test_id("sub-name")).to_have_text("Nest Talk")  # the feed's own title
    expect(row.get_by_test_id("sub-kind")).to_have_text("Podcast")
    expect(row.get_by_test_id("sub-url-link")).to_have_text(url)
    expect(row.get_by_test_id("sub-rule")).to_contain_text("audio · mp3")
    # The first check ends: the newest episode sent to downloads, the older one only noted.
    expect(row.get_by_test_id("sub-when")).to_contain_text(re.compile(r"^Checked .* · next check in"),
                                                          timeout=DOWNLOAD_MS)
    expect(row.get_by_test_id("sub-total")).to_have_text("2 entries found")
    expect(count(row, "queued")).to_have_text("1 sent to downloads")
    expect(count(row, "seen")).to_have_text("1 noted, not downloaded")
    expect(row.get_by_test_id("sub-last-error")).to_be_hidden()
    expect(page.get_by_test_id("sub-url")).to_have_value("")  # the form was reset for the next one
    shot(page, "subscriptions")

    # Its download is an ordinary one, followed on the downloads page.
    nav.get_by_role("link", name="Downloads").click()
    downloads = page.get_by_test_id("download-row")
    expect(downloads).to_have_count(1)
    expect(downloads.get_by_test_id("download-status")).to_have_text("completed", timeout=DOWNLOAD_MS)
    expect(downloads.locator(".dl-title")).to_have_attribute("title", episodes.url("/media/ep2.mp3"))  # the newest

    # A new episode appears; "Check now" finds it, and the finished download now counts as downloaded.
    nav.get_by_role("link", name="Subscriptions").click()
    feeds.add_episode(SHOW, episode(episodes, 3))
    before = len(feeds.requests(SHOW))
    row.get_by_test_id("sub-check").click()
    expect(page.locator(".toast")).to_contain_text("Checked “Nest Talk”: 1 new.")
    expect(row.get_by_test_id("sub-total")).to_have_text("3 entries found")
    expect(count(row, "done")).to_have_text("1 downloaded")
    expect(count(row, "queued")).to_have_text("1 sent to downloads")
    expect(row.get_by_test_id("sub-check")).to_have_text("Check now")
    row.scroll_into_view_if_needed()
    shot(page, "subscriptions-row")
    expect(row.get_by_test_id("sub-check")).to_be_enabled()
    assert len(feeds.requests(SHOW)) > before

    # The rule: a bad interval is refused under its field, then keep_last is saved.
    row.get_by_test_id("sub-edit").click()
    form = row.get_by_test_id("sub-edit-form")
    expect(form.get_by_test_id("sub-keep-last")).to_have_value("")
    expect(form.get_by_test_id("sub-mode-audio")).to_be_checked()
    form.get_by_test_id("sub-interval").fill("0.001")  # 4 seconds
    form.get_by_test_id("sub-save").click()
    expect(form.get_by_test_id("sub-error-interval_s")).to_contain_text("greater than or equal to 60")
    shot(page, "subscriptions-edit")
    form.get_by_test_id("sub-interval").fill("2")
    form.get_by_test_id("sub-keep-last").fill("1")
    form.get_by_test_id("sub-save").click()
    expect(form).to_have_count(0)
    expect(row.get_by_test_id("sub-rule")).to_contain_text("keeps the newest 1")
    expect(row.get_by_test_id("sub-rule")).to_contain_text("checked every 2 h")
    [sub] = api_get(subs_server, "/subscriptions")
    assert (sub["keep_last"], sub["interval_s"], sub["mode"]) == (1, 7200, "audio")

    # Once episode 3 is in, a check keeps only the newest one: episode 2 is removed by the rule.
    nav.get_by_role("link", name="Downloads").click()
    expect(downloads).to_have_count(2)
    for n in range(2):
        expect(downloads.nth(n).get_by_test_id("download-status")).to_have_text("completed", timeout=DOWNLOAD_MS)
    nav.get_by_role("link", name="Subscriptions").click()
    row.get_by_test_id("sub-check").click()
    expect(count(row, "pruned")).to_have_text("1 removed by the rule")
    expect(count(row, "done")).to_have_text("1 downloaded")

    # The private feed: copied, read as RSS by anyone holding it, replaced (the old one stops working).
    row.get_by_test_id("sub-copy-feed").click()
    expect(page.locator(".toast").last).to_contain_text("Keep it secret")
    feed_url = clipboard(page)
    assert feed_url == api_get(subs_server, f"/subscriptions/{sub['id']}")["feed_url"]
    rss = http().get(feed_url)
    assert rss.status_code == 200 and "Nest Talk" in rss.text and "Episode 3: Nests" in rss.text
    row.get_by_test_id("sub-new-feed").click()
    page.get_by_role("button", name="Make a new URL").click()
    expect(page.locator(".toast").last).to_contain_text("A new private feed URL was made and copied.")
    new_url = clipboard(page)
    assert new_url != feed_url and http().get(new_url).status_code == 200
    assert http().get(feed_url).status_code == 404

    # Paused and resumed.
    row.get_by_test_id("sub-enabled").uncheck()
    expect(row.get_by_test_id("sub-paused")).to_be_visible()
    expect(row.get_by_test_id("sub-when")).to_contain_text("paused: no automatic checks")
    assert api_get(subs_server, f"/subscriptions/{sub['id']}")["enabled"] is False
    row.get_by_test_id("sub-enabled").check()
    expect(row.get_by_test_id("sub-paused")).to_be_hidden()

    # Unsubscribed: the row goes, what it downloaded stays in the library.
    media_ids = [i for d in api_get(subs_server, "/downloads?status=completed") for i in d["media_ids"]]
    row.get_by_test_id("sub-delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Unsubscribe").click()
    expect(row).to_have_count(0)
    expect(page.get_by_text("You follow nothing yet.")).to_be_visible()
    assert api_get(subs_server, "/subscriptions") == []
    kept = [m for m in media_ids if http().get(f"{subs_server.base_url}/api/v1/media/{m}",
                                                headers=subs_server.headers()).status_code == 200]
    assert len(kept) == 1  # episode 3; episode 2 was pruned by keep_last, file and row


def test_errors_land_by_their_field_and_markup_in_a_name_is_text(
        new_page: Callable[..., Page], subs_server: LiveServer, feeds: FeedServer, episodes: MediaServer) -> None:
    url = feeds.add_feed("/quiet.xml", "Quiet Show", "Nobody")
    page = new_page(subs_server.base_url)
    allow_console_errors(page, r"status of (400|409|422)")
    sign_in(page)
    page.goto("/#/subscriptions")
    add = page.get_by_test_id("sub-add")
    url_error = page.get_by_test_id("sub-error-url")

    page.get_by_test_id("sub-url").fill("not a link")
    add.click()
    expect(url_error).to_have_text("Give the full address, starting with http:// or https://")  # the API's 422
    page.get_by_test_id("sub-url").fill(episodes.url("/media/ep1.mp3"))  # one file: nothing to follow
    add.click()
    expect(url_error).to_contain_text("cannot follow this address")  # the API's 400, in its words
    expect(page.get_by_test_id("sub-row")).to_have_count(0)

    page.get_by_test_id("sub-url").fill(url)
    page.get_by_test_id("sub-name-input").fill(HTML_NAME)
    add.click()
    row = page.get_by_test_id("sub-row")
    expect(row.get_by_test_id("sub-name")).to_have_text(HTML_NAME)
    expect(url_error).to_be_hidden()
    expect(row.get_by_test_id("sub-when")).to_contain_text("Checked", timeout=DOWNLOAD_MS)
    expect(row.get_by_test_id("sub-total")).to_have_text("Nothing found yet")
    page.get_by_test_id("sub-url").fill(url)  # the same address again
    add.click()
    expect(url_error).to_have_text("you already follow this address")  # the API's 409
    page.get_by_test_id("sub-keep-last").fill("0")
    page.get_by_test_id("sub-url").fill(feeds.url("/another.xml"))
    add.click()
    expect(page.get_by_test_id("sub-error-keep_last")).to_contain_text("greater than or equal to 1")
    assert page.locator("main img, .toast img").count() == 0 and page.locator("main b").count() == 0
    assert page.evaluate("window.__xss") is None

    # A failing source says why on its row, and the reload shows the same.
    feeds.set_mode("/quiet.xml", "error")
    row.get_by_test_id("sub-check").click()
    expect(row.get_by_test_id("sub-last-error")).to_contain_text(re.compile(r"Last check failed: .*500"))
    page.reload()
    expect(page.get_by_test_id("sub-row").get_by_test_id("sub-last-error")).to_contain_text("500")
    expect(page.get_by_test_id("sub-row").get_by_test_id("sub-name")).to_have_text(HTML_NAME)
    feeds.set_mode("/quiet.xml", "ok")
    for sub in api_get(subs_server, "/subscriptions"):
        assert http().delete(f"{subs_server.base_url}/api/v1/subscriptions/{sub['id']}",
                             headers=subs_server.headers()).status_code == 204


def test_the_page_fits_a_phone(new_page: Callable[..., Page], subs_server: LiveServer) -> None:
    page = new_page(subs_server.base_url, phone=True)
    sign_in(page)
    page.goto("/#/subscriptions")
    expect(page.get_by_test_id("sub-add-section")).to_be_visible()
    expect(page.locator("main[aria-busy]")).to_have_count(0)
    shot(page, "subscriptions-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]  # type: ignore[index]
