"""The player bar and the video page beyond the main flows: the queue, keyboard shortcuts, the Media Session,
playback surviving navigation, and subtitles from a sidecar file shown as a <track>."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from medianest.library.ffmpeg import run_ffmpeg
from tests.liveserver import LiveServer, rescan
from tests.web.conftest import shot, sign_in


def _menu(page: Page, title: str, action: str) -> None:
    page.get_by_test_id("media-item").filter(has_text=title).first.get_by_test_id("item-menu").click()
    page.get_by_role("menuitem", name=action).click()


def test_queue_shortcuts_and_media_session(page: Page, web_server: LiveServer) -> None:
    sign_in(page)
    page.goto("/#/library?kind=audio&sort=title")
    expect(page.get_by_test_id("media-item").first).to_be_visible()
    # The fixture tracks last 3 s: played at 1/16 speed, none ends (and moves the queue on) mid-test.
    page.get_by_test_id("audio").evaluate("a => { a.defaultPlaybackRate = 0.0625; a.playbackRate = 0.0625; }")
    page.get_by_test_id("media-item").filter(has_text="Bachelorette").click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Bachelorette")
    _menu(page, "Square", "Add to queue")
    _menu(page, "Circle", "Play next")
    page.get_by_test_id("queue-toggle").click()
    queue = page.get_by_test_id("queue")
    titles = queue.locator(".q-title")
    expect(titles.nth(0)).to_have_text("Bachelorette")
    # Play next goes right after the current item; Add to queue at the end.
    assert titles.all_inner_texts()[1] == "Circle" and titles.all_inner_texts()[-1] == "Square"
    shot(page, "queue")
    # The lock screen sees what plays.
    assert page.evaluate("navigator.mediaSession.metadata.title") == "Bachelorette"
    page.locator("main").click(position={"x": 5, "y": 5})  # focus off any button, as a person would
    page.keyboard.press("n")
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Circle")
    page.wait_for_function("() => navigator.mediaSession.metadata.title === 'Circle'")
    volume = page.get_by_test_id("audio").evaluate("a => a.volume")
    page.keyboard.press("ArrowDown")
    assert page.get_by_test_id("audio").evaluate("a => a.volume") < volume
    repeat = page.get_by_role("button", name="Repeat")
    page.keyboard.press("r")
    expect(repeat).to_have_attribute("title", re.compile("Repeat: all"))
    page.keyboard.press("Space")
    expect(page.get_by_test_id("play-pause")).to_have_attribute("aria-label", "Play")  # paused
    # Playback state lives outside the page: moving elsewhere keeps the queue and the item.
    page.get_by_test_id("nav").get_by_role("link", name="Playlists").click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Circle")
    page.keyboard.press("k")
    expect(page.get_by_test_id("play-pause")).to_have_attribute("aria-label", "Pause")


def test_the_video_page_shows_a_sidecars_subtitles(page: Page, web_server: LiveServer) -> None:
    sidecar = web_server.media_dir / "Videos" / "Clips" / "Motion.en.srt"
    sidecar.write_text("1\n00:00:00,000 --> 00:00:02,500\nHello from the sidecar\n\n", encoding="utf-8")
    sign_in(page)
    page.goto("/#/library?kind=video&q=motion")
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")  # the filtered list, not the one before
    page.get_by_test_id("media-item").click()
    expect(page.get_by_test_id("subtitles")).to_contain_text("en")
    video = page.get_by_test_id("stage").locator("video")
    expect(video.locator("track")).to_have_count(1)
    cue = video.evaluate("""v => new Promise(ok => {
        const t = v.textTracks[0]; t.mode = 'showing';
        const check = () => t.cues && t.cues.length ? ok(t.cues[0].text) : setTimeout(check, 100);
        check(); })""")
    assert cue == "Hello from the sidecar"
    shot(page, "watch-subtitles")


def test_resumes_from_the_saved_position_and_saves_it_on_pause(page: Page, web_server: LiveServer) -> None:
    long_walk = web_server.media_dir / "Long" / "Long Walk.mp3"
    long_walk.parent.mkdir(exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=300:duration=60", "-metadata", "title=Long Walk",
                "-c:a", "libmp3lame", "-b:a", "32k", str(long_walk)])
    assert rescan(web_server)["status"] == "completed"
    api = f"{web_server.base_url}/api/v1"
    item = httpx.get(f"{api}/media", params={"q": "long walk"}, headers=web_server.headers()).json()["data"][0]
    httpx.put(f"{api}/media/{item['id']}/progress", json={"position_s": 30}, headers=web_server.headers())

    sign_in(page)
    page.goto("/#/library?q=long%20walk")
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")
    page.get_by_test_id("media-item").click()
    expect(page.locator(".toast").filter(has_text="Resumed “Long Walk” at 0:30")).to_be_visible()
    audio = page.get_by_test_id("audio")
    audio.evaluate("a => new Promise(ok => { const t = () => a.currentTime > 30.5 ? ok() : setTimeout(t, 50); t(); })")
    page.get_by_test_id("play-pause").click()  # pause: the resume point is saved
    paused_at = audio.evaluate("a => a.currentTime")

    def saved() -> float:
        r = httpx.get(f"{api}/media/{item['id']}/progress", headers=web_server.headers())
        return float(r.json()["data"]["position_s"])

    for _ in range(100):
        if saved() != 30:
            break
        time.sleep(0.1)
    assert saved() == pytest.approx(paused_at, abs=0.5)
