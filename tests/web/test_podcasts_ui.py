"""The library's Podcasts section: episodes (items whose file says genre Podcast) newest first, their shows
as the album filter, and the navigation marking where you are."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from medianest.library.ffmpeg import run_ffmpeg
from tests.liveserver import LiveServer, rescan, serve
from tests.web.conftest import WEB_ENV, sign_in

EPISODES = [("Pilot", "2023-11-02"), ("Second Episode", "2023-11-09")]


def _episode(path: Path, title: str, day: str) -> None:
    tags = {"title": title, "album": "The Show", "artist": "Show Host", "genre": "Podcast", "date": day,
            "description": f"Notes for {title}"}
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libmp3lame",
                *[a for k, v in tags.items() for a in ("-metadata", f"{k}={v}")], str(path)])


@pytest.fixture
def podcast_server(tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    """The usual test library (music, videos) plus two episodes of a show."""
    source = tmp_path / "source"
    shutil.copytree(media_source[0], source)
    (source / "The Show").mkdir()
    for n, (title, day) in enumerate(EPISODES, 1):
        _episode(source / "The Show" / f"{n:02} {title}.mp3", title, day)
    with serve(tmp_path / "server", source, extra_env=WEB_ENV) as server:
        yield server


def test_the_podcasts_section_lists_episodes_with_their_show(new_page: Callable[..., Page],
                                                              podcast_server: LiveServer) -> None:
    assert rescan(podcast_server)["status"] == "completed"  # the start-up scan may still be writing
    page = new_page(podcast_server.base_url)
    sign_in(page)
    page.get_by_test_id("nav").get_by_role("link", name="Podcasts").click()
    expect(page.locator("main h1")).to_have_text("Podcasts")
    expect(page.get_by_test_id("nav").get_by_role("link", name="Podcasts")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("result-count")).to_have_text("2 items")
    expect(page.get_by_test_id("filter-sort")).to_have_value("uploaded_at")
    expect(page.get_by_test_id("filter-album").locator("option")).to_have_text(["All shows", "The Show"])
    expect(page.get_by_test_id("media-item")).to_have_count(2)
    nav = page.get_by_test_id("nav")
    nav.get_by_role("link", name="Music").click()  # back to the whole of the music
    expect(page.locator("main h1")).to_have_text("Music")
    expect(nav.get_by_role("link", name="Podcasts")).not_to_have_attribute("aria-current", "page")
