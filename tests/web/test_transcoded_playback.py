"""Every file of a typical real library plays in the real Chromium through the web UI (issue 15): MKV with AC3,
AVI with MPEG-4, ALAC, WMA, HEVC, 10-bit H.264, two audio languages, next to FLAC, Opus and WAV, each made by
ffmpeg (tests/transcoding/media.py) and played however the server decided (the file, a progressive transcode
or HLS, natively or through hls.js).

"Plays" is what the browser decoded, not what the page says: audio bytes decoded grow, video frames are
decoded and the picture is not black, and the position advances; a seek to 80 % with the player's seek bar (a
transcode is asked for again from there) plays on from there. Also: a seek far into a long audio transcode
while it runs, and a resume point inside one (saved again in the item's time, not the stream's), hls.js forced
on the MKV, the audio-track choice on the two-language film, and a sidecar's subtitles on an HLS-played video,
natively and with hls.js.

Every wait has a generous timeout (a transcode on a loaded machine) and nothing measures how long it took.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.liveserver import LiveServer, rescan, serve
from tests.media import tone
from tests.transcoding.media import REAL_FILES, RealFile, by_name, make_real_library
from tests.web.conftest import WEB_ENV, shot, sign_in

SECONDS = 20
WAIT_MS = 60_000  # a first HLS segment or a restarted transcode, on a busy machine
SIDECAR = "Hello from beside the MKV"
# Long enough that a seek to 80 % is far beyond what the running transcode has sent (the browser reads it as
# it plays): the player must ask for the stream again from there.
LONG = RealFile("long_wma", "Long/Long Lecture.wma", "Long Lecture", "audio", 600)
# The player module main.js loaded (a module is evaluated once per URL), as window.__player: predicates
# polled by wait_for_function must be synchronous (a Promise would count as true at once).
EXPOSE_PLAYER = "import('/static/js/player.js').then(p => { window.__player = p; })"
PLAYER = "window.__player"
# How much the browser has decoded so far, of the element in play.
DECODED = """el => ({
    audio: el.webkitAudioDecodedByteCount || 0,
    frames: el.tagName === "VIDEO" ? el.getVideoPlaybackQuality().totalVideoFrames : 0,
    time: el.currentTime, paused: el.paused, src: el.currentSrc,
})"""
# Mean and spread of the luminance of the frame on screen, drawn small onto a canvas.
PICTURE = """v => {
    const c = document.createElement("canvas"); c.width = 64; c.height = 48;
    const g = c.getContext("2d"); g.drawImage(v, 0, 0, 64, 48);
    const px = g.getImageData(0, 0, 64, 48).data, ys = [];
    for (let i = 0; i < px.length; i += 4) ys.push(0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2]);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    return { mean, sd: Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / ys.length) };
}"""


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory,
                media_source: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("real")
    with serve(root, media_source[0], extra_env=WEB_ENV) as server:
        files = make_real_library(server.media_dir, seconds=SECONDS)
        mkv = files["mkv_h264_ac3"]
        mkv.with_name(f"{mkv.stem}.en.srt").write_text(f"1\n00:00:00,000 --> 00:00:30,000\n{SIDECAR}\n\n",
                                                       encoding="utf-8")
        tone(server.media_dir / LONG.relpath, "wmav2", LONG.title, seconds=LONG.seconds)
        assert rescan(server)["status"] == "completed"
        yield server


def _open(page: Page, real: RealFile) -> Locator:
    """Click `real` in the library as a person would (a video opens its page); returns its media element."""
    page.goto(f"/#/library?q={quote(real.title)}")
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")
    page.evaluate(EXPOSE_PLAYER)
    page.get_by_test_id("media-item").filter(has_text=real.title).click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text(real.title)
    if real.kind == "video":
        expect(page).to_have_url(re.compile(r"#/watch/"))
        return page.get_by_test_id("stage").locator("video")
    return page.get_by_test_id("audio")


def _decision(page: Page) -> dict[str, Any]:
    """The server's playback decision for the item in play, once the player has it."""
    handle = page.wait_for_function(f"() => {PLAYER}.playback()", timeout=WAIT_MS)
    decision: dict[str, Any] = handle.json_value()
    return decision


def _position(page: Page) -> float:
    return float(page.evaluate(f"{PLAYER}.position()"))


def _decoded(el: Locator) -> dict[str, Any]:
    state: dict[str, Any] = el.evaluate(DECODED)
    return state


def _plays_on(page: Page, el: Locator, *, past: float, video: bool, audio: bool) -> dict[str, Any]:
    """Wait until the item's position is beyond `past` seconds and the browser decoded more than it had
    (frames for a video, audio bytes when there is sound); returns what it had decoded by then."""
    before = _decoded(el)
    page.wait_for_function(
        f"""([before, past, video, audio]) => {{
            const p = {PLAYER}, el = p.element();
            const grew = (!video || el.getVideoPlaybackQuality().totalVideoFrames > before.frames)
                && (!audio || el.webkitAudioDecodedByteCount > before.audio);
            return !el.paused && p.position() > past && grew;
        }}""", arg=[before, past, video, audio], timeout=WAIT_MS, polling=250)
    return _decoded(el)


def _seek_bar(page: Page, fraction: float) -> None:
    """Drag the player bar's seek slider to `fraction` of the item and let go, as a person would."""
    page.get_by_test_id("seek").fill(str(round(fraction * 1000)))


def _item(server: LiveServer, title: str) -> dict[str, Any]:
    r = httpx.get(f"{server.base_url}/api/v1/media", params={"q": title}, headers=server.headers())
    item: dict[str, Any] = next(m for m in r.json()["data"] if m["title"] == title)
    return item


def _has_audio(server: LiveServer, title: str) -> bool:
    return bool(_item(server, title).get("audio_codec"))


@pytest.mark.parametrize("name", [f.name for f in REAL_FILES])
def test_every_real_file_plays_and_seeks(new_page: Callable[..., Page], real_server: LiveServer, name: str) -> None:
    real = by_name(name)
    video = real.kind == "video"
    sound = _has_audio(real_server, real.title)
    page = new_page(real_server.base_url)
    sign_in(page)
    el = _open(page, real)
    decision = _decision(page)
    assert decision["method"] in ("direct", "remux", "transcode") and decision["reason"], decision
    _plays_on(page, el, past=1, video=video, audio=sound)
    if video:
        picture = el.evaluate(PICTURE)
        assert picture["sd"] > 10 and picture["mean"] > 16, (picture, decision)  # testsrc2, not a black frame
    shot(page, f"transcoded-{name}")

    target = 0.8 * SECONDS
    _seek_bar(page, 0.8)
    _plays_on(page, el, past=target + 0.5, video=video, audio=sound)
    assert _position(page) < SECONDS, _position(page)
    expect(page.locator(".toast-error")).to_have_count(0)


def test_a_seek_far_into_a_running_transcode_starts_it_again_there(new_page: Callable[..., Page],
                                                                   real_server: LiveServer) -> None:
    page = new_page(real_server.base_url)
    sign_in(page)
    el = _open(page, LONG)
    assert _decision(page)["protocol"] == "progressive"
    _plays_on(page, el, past=1, video=False, audio=True)
    target = 0.8 * LONG.seconds
    _seek_bar(page, 0.8)
    _plays_on(page, el, past=target + 0.5, video=False, audio=True)
    assert "offset=" in _decoded(el)["src"]  # the transcode from there: the element's own clock starts at 0
    assert _decoded(el)["time"] < target
    # The bar shows the item's time and length, not the new stream's.
    expect(page.locator(".np-time").first).to_have_text(re.compile(r"^8:\d\d$"))
    expect(page.locator(".np-time").last).to_have_text("10:00")


def test_a_transcode_resumes_where_it_was_left_and_saves_the_items_position(new_page: Callable[..., Page],
                                                                            real_server: LiveServer) -> None:
    api = f"{real_server.base_url}/api/v1"
    item = _item(real_server, LONG.title)
    r = httpx.put(f"{api}/media/{item['id']}/progress", json={"position_s": 300}, headers=real_server.headers())
    assert r.is_success, r.text
    page = new_page(real_server.base_url)
    sign_in(page)
    el = _open(page, LONG)
    expect(page.locator(".toast").filter(has_text=f"Resumed “{LONG.title}” at 5:00")).to_be_visible()
    _plays_on(page, el, past=300.5, video=False, audio=True)
    assert "offset=300" in _decoded(el)["src"]  # the transcode starts there, not at 0 to be skipped through
    page.get_by_test_id("play-pause").click()  # pause: the resume point is saved, in the item's time
    expect(page.get_by_test_id("play-pause")).to_have_attribute("aria-label", "Play")
    paused_at = _position(page)

    def saved() -> float:
        r = httpx.get(f"{api}/media/{item['id']}/progress", headers=real_server.headers())
        return float(r.json()["data"]["position_s"])

    for _ in range(100):  # a save while it played may land first: wait for the pause's
        if saved() == pytest.approx(paused_at, abs=0.5):
            break
        page.wait_for_timeout(100)
    assert saved() == pytest.approx(paused_at, abs=0.5)


def test_a_save_still_in_flight_never_overwrites_the_pause_s_later_position(
        new_page: Callable[..., Page], real_server: LiveServer) -> None:
    """The player saves the resume point while it plays and again at a pause. Held back by the network, the
    save made while playing must not land after the pause's: saves go one at a time, in order."""
    api = f"{real_server.base_url}/api/v1"
    item = _item(real_server, LONG.title)
    r = httpx.put(f"{api}/media/{item['id']}/progress", json={"position_s": 200}, headers=real_server.headers())
    assert r.is_success, r.text
    page = new_page(real_server.base_url)
    held: list[Route] = []
    sent: list[float] = []

    def hold_the_first_save(route: Route) -> None:
        if route.request.method != "PUT":
            route.continue_()
            return
        sent.append(float((route.request.post_data_json or {})["position_s"]))
        if not held:
            held.append(route)  # answered below, after the pause
        else:
            route.continue_()

    page.route(re.compile(rf".*/api/v1/media/{item['id']}/progress$"), hold_the_first_save)
    sign_in(page)
    el = _open(page, LONG)
    _plays_on(page, el, past=200.5, video=False, audio=True)
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "no save was made while it played"
    page.get_by_test_id("play-pause").click()
    expect(page.get_by_test_id("play-pause")).to_have_attribute("aria-label", "Play")
    paused_at = _position(page)
    page.wait_for_timeout(500)  # time for a pause's save that did not wait to overtake the held one
    held[0].continue_()

    def saved() -> float:
        r = httpx.get(f"{api}/media/{item['id']}/progress", headers=real_server.headers())
        return float(r.json()["data"]["position_s"])

    for _ in range(100):
        if len(sent) >= 2 and saved() == pytest.approx(paused_at, abs=0.5):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # and nothing older lands after it
    assert len(sent) >= 2 and saved() == pytest.approx(paused_at, abs=0.5), (sent, paused_at)


def test_hls_js_plays_the_mkv_when_forced(new_page: Callable[..., Page], real_server: LiveServer) -> None:
    real = by_name("mkv_h264_ac3")
    page = new_page(real_server.base_url)
    sign_in(page)
    page.evaluate("localStorage.setItem('medianest.hls', 'js')")
    el = _open(page, real)
    decision = _decision(page)
    assert decision["protocol"] == "hls", decision  # AC3 is not for browsers: at least the audio is encoded
    _plays_on(page, el, past=1, video=True, audio=True)
    assert page.evaluate(f"{PLAYER}.usesHlsJs()")
    assert _decoded(el)["src"].startswith("blob:")  # Media Source Extensions, fed by hls.js
    _seek_bar(page, 0.8)
    _plays_on(page, el, past=0.8 * SECONDS + 0.5, video=True, audio=True)


def test_the_audio_track_choice_switches_the_track(new_page: Callable[..., Page], real_server: LiveServer) -> None:
    real = by_name("mkv_two_audio")
    page = new_page(real_server.base_url)
    sign_in(page)
    el = _open(page, real)
    _plays_on(page, el, past=2, video=True, audio=True)
    choice = page.get_by_test_id("audio-track")
    expect(choice.locator("option")).to_have_count(2)
    first = _decision(page)
    assert len(first["audio_tracks"]) == 2, first
    other = next(t["index"] for t in first["audio_tracks"] if t["index"] != first["audio_track"])
    shot(page, "audio-track-choice")
    at = _position(page)
    choice.select_option(str(other))
    page.wait_for_function(f"other => {PLAYER}.playback()?.audio_track === other", arg=other,
                           timeout=WAIT_MS)
    # It goes on from where it was, in the other language.
    _plays_on(page, el, past=at + 1, video=True, audio=True)
    assert _position(page) >= at - 1
    expect(choice).to_have_value(str(other))
    expect(page.locator(".toast-error")).to_have_count(0)


@pytest.mark.parametrize("hls", ["native", "js"])
def test_a_sidecar_shows_on_an_hls_played_video(new_page: Callable[..., Page], real_server: LiveServer,
                                                hls: str) -> None:
    page = new_page(real_server.base_url)
    sign_in(page)
    if hls == "js":
        page.evaluate("localStorage.setItem('medianest.hls', 'js')")
    el = _open(page, by_name("mkv_h264_ac3"))
    assert _decision(page)["protocol"] == "hls"
    expect(page.get_by_test_id("subtitles")).to_contain_text("en")
    expect(el.locator("track")).to_have_count(1)
    _plays_on(page, el, past=1, video=True, audio=True)
    assert page.evaluate(f"{PLAYER}.usesHlsJs()") is (hls == "js")
    cue = el.evaluate("""v => new Promise(ok => {
        const t = v.textTracks[0]; t.mode = 'showing';
        const check = () => t.cues && t.cues.length ? ok(t.cues[0].text) : setTimeout(check, 100);
        check(); })""")
    assert cue == SIDECAR
    shot(page, f"hls-{hls}-subtitles")
