"""The downloads page's search of other sites, in Chromium against a server whose Dailymotion is the stand-in on
127.0.0.1 (YouTube search off, as on every live test server): results with their facts, two picked and queued
with the quality chosen in the download form (their links are the local media server's, so the downloads run
and finish), a result previewed in the form, and the notice when the site asked for is not available."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.discovery.dailymotion import Dailymotion
from tests.liveserver import LiveServer, serve
from tests.loopback import http
from tests.web.conftest import WEB_ENV, WebMedia, allow_console_errors, shot, sign_in

WAIT_MS = 20_000


@pytest.fixture(scope="module")
def dailymotion(media_server: WebMedia) -> Iterator[Dailymotion]:
    with Dailymotion() as server:
        server.add_video("x8clip", "Loopback clip", "Nest Channel", duration=125, views=4321,
                         created_time=1_700_000_000, url=media_server.video_url,
                         thumbnail="http://127.0.0.1:9/no-thumbnail.jpg")
        server.add_video("x8page", "Loopback clip page", "Other Channel", duration=3700, views=1,
                         url=media_server.page_url)  # an https thumbnail (the browser's proxy refuses it)
        yield server


@pytest.fixture(scope="module")
def search_server(tmp_path_factory: pytest.TempPathFactory, media_source: tuple[Path, dict[str, str]],
                  dailymotion: Dailymotion) -> Iterator[LiveServer]:
    env = {**WEB_ENV, "MEDIANEST_DAILYMOTION_API_URL": dailymotion.url}
    with serve(tmp_path_factory.mktemp("remote-search"), media_source[0], extra_env=env) as server:
        yield server


def test_search_pick_two_and_queue_them_with_the_chosen_quality(
        new_page: Callable[..., Page], search_server: LiveServer, dailymotion: Dailymotion,
        media_server: WebMedia) -> None:
    page = new_page(search_server.base_url)
    allow_console_errors(page, r"ERR_PROXY_CONNECTION_FAILED|ERR_TUNNEL_CONNECTION_FAILED")  # the https thumbnail
    sign_in(page)
    page.goto("/#/downloads")
    page.get_by_test_id("download-quality").select_option("720p")
    page.get_by_test_id("remote-q").fill("loopback clip")
    page.get_by_test_id("remote-site").select_option("dailymotion")
    page.get_by_test_id("remote-search").click()
    results = page.get_by_test_id("remote-result")
    expect(results).to_have_count(2)
    first = results.nth(0)
    expect(first).to_contain_text("Loopback clip")
    for fact, text in (("channel", "Nest Channel"), ("duration", "2:05"), ("views", "4.3K views"),
                       ("date", "2023")):
        expect(first.locator(f"[data-fact={fact}]")).to_contain_text(text)
    expect(results.nth(1).locator("[data-fact=duration]")).to_contain_text("1:01:40")
    expect(first.locator("img")).to_have_count(0)  # an http thumbnail: a tile, not an image the CSP refuses
    expect(results.nth(1).locator("img.rs-thumb")).to_have_attribute("src", "https://s1.dmcdn.net/v/x8page/x360")
    expect(page.get_by_test_id("remote-notice")).to_be_hidden()
    shot(page, "remote-search")
    assert [r.arg("search") for r in dailymotion.searches()][-1] == "loopback clip"

    queue = page.get_by_test_id("remote-queue")
    expect(queue).to_be_disabled()
    first.get_by_test_id("remote-pick").check()
    results.nth(1).get_by_test_id("remote-pick").check()
    expect(queue).to_have_text("Download 2 selected")
    queue.click()
    rows = page.get_by_test_id("download-row")
    expect(rows).to_have_count(2)
    for n in range(2):
        expect(rows.nth(n).get_by_test_id("download-status")).to_have_text("completed", timeout=3 * WAIT_MS)
    expect(queue).to_be_disabled()  # the picks were queued and cleared
    made = http().get(f"{search_server.base_url}/api/v1/downloads", headers=search_server.headers()).json()["data"]
    assert sorted((d["url"], d["mode"], d["quality"]) for d in made) == sorted(
        [(media_server.video_url, "video", "720p"), (media_server.page_url, "video", "720p")])


def test_preview_a_result_and_the_notice_of_a_site_that_is_off(new_page: Callable[..., Page], search_server: LiveServer,
                                                              media_server: WebMedia) -> None:
    page = new_page(search_server.base_url)
    allow_console_errors(page, r"ERR_PROXY_CONNECTION_FAILED|ERR_TUNNEL_CONNECTION_FAILED")
    sign_in(page)
    page.goto("/#/downloads")
    page.get_by_test_id("remote-q").fill("loopback")
    page.get_by_test_id("remote-site").select_option("youtube")
    page.get_by_test_id("remote-search").click()
    expect(page.get_by_test_id("remote-notice")).to_have_text(
        "YouTube search is turned off on this server. Showing results from Dailymotion only.")
    results = page.get_by_test_id("remote-result")
    expect(results).to_have_count(2)
    expect(results.nth(0).locator("[data-fact=site]")).to_have_text("Dailymotion")
    results.nth(0).get_by_test_id("remote-preview").click()
    expect(page.get_by_test_id("download-preview-card")).to_be_visible()
    expect(page.get_by_test_id("download-url")).to_have_value(media_server.video_url)
