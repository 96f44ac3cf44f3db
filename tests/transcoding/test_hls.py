"""HLS renditions of video: a VOD playlist with the whole duration from the first request, segments made on
demand and probed with FFmpeg, a seek far ahead that starts the encoder there, tokens bound to their item,
and encoders that stop when nobody fetches."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.transcoding.conftest import LONG_TITLE, World, probe_bytes

SEGMENT_S = 6


async def _until(check: Callable[[], bool], timeout_s: float = 15) -> bool:
    """Whether `check` holds within `timeout_s` (a wait, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.1)
    return check()


def _urls(playlist: str) -> tuple[str, list[str], list[float]]:
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
    assert init is not None, playlist
    durations = [float(d) for d in re.findall(r"#EXTINF:([0-9.]+),", playlist)]
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    return init.group(1), segments, durations


async def _rendition(world: World, name: str, **caps: Any) -> tuple[str, str, list[str], list[float]]:
    """The playlist URL's folder, the init URL and the segment URLs (relative to that folder)."""
    d = await world.decision(name, **caps)
    assert d["protocol"] == "hls", d
    r = await world.get(d["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in r.text and r.text.rstrip().endswith("#EXT-X-ENDLIST")
    base = d["url"].split("index.m3u8")[0]
    init, segments, durations = _urls(r.text)
    return base, init, segments, durations


async def _fetch_all(world: World, base: str, init: str, segments: list[str], dest: Path) -> Path:
    body = bytearray((await world.get(base + init)).content)
    for url in segments:
        r = await world.get(base + url)
        assert r.status_code == 200, (url, r.text)
        body += r.content
    dest.write_bytes(bytes(body))
    return dest


@pytest.mark.parametrize(("name", "video", "audio"), [("mkv_h264_ac3", "h264", "aac"), ("avi_mpeg4_mp3", "h264", "aac"),
                                                      ("mp4_hevc", "h264", "aac"), ("mp4_h264_10bit", "h264", "aac")])
async def test_the_whole_rendition_plays_as_h264(world: World, tmp_path: Path, name: str, video: str,
                                                 audio: str) -> None:
    base, init, segments, durations = await _rendition(world, name)
    assert len(segments) == 3 and sum(durations) == pytest.approx(14, abs=0.1)  # all listed up front
    assert all("token=" in url for url in [init, *segments])
    got = probe_bytes(await _fetch_all(world, base, init, segments, tmp_path / "all.mp4"))
    assert (got["video"], got["audio"]) == (video, audio), got
    assert got["duration"] == pytest.approx(14, abs=1)


async def test_encoded_segments_are_cut_on_the_grid(world: World, tmp_path: Path) -> None:
    base, init, segments, _ = await _rendition(world, "avi_mpeg4_mp3")
    head = (await world.get(base + init)).content
    for n, url in enumerate(segments):
        one = tmp_path / f"{n}.mp4"
        one.write_bytes(head + (await world.get(base + url)).content)
        # Each segment starts where the playlist says: a player seeking by it lands where it meant to.
        assert probe_bytes(one)["start"] == pytest.approx(n * SEGMENT_S, abs=0.1), n


async def test_a_seek_far_ahead_starts_the_encoder_there(world: World, tmp_path: Path) -> None:
    transcoding = world.transcoding
    base, init, segments, durations = await _rendition(world, LONG_TITLE, max_height=180)
    assert len(segments) == 50 and sum(durations) == pytest.approx(300, abs=0.5)
    r = await world.get(base + segments[40])  # the first request: a resume point near the end
    assert r.status_code == 200
    folder = next(transcoding.cache.hls.glob("*h264-180-*"))
    made = {int(p.stem[1:]) for p in folder.glob("s*.m4s")}
    assert 40 in made and not made & set(range(0, 38)), sorted(made)  # nothing before it was encoded
    one = tmp_path / "40.mp4"
    one.write_bytes((await world.get(base + init)).content + r.content)
    got = probe_bytes(one)
    assert got["start"] == pytest.approx(40 * SEGMENT_S, abs=0.1) and got["height"] == 180
    # Then back to the start: the encoder goes there too.
    assert (await world.get(base + segments[1])).status_code == 200
    assert (folder / "s1.m4s").exists() and not (folder / "s25.m4s").exists()


async def test_an_encoder_nobody_fetches_from_stops(world: World) -> None:
    transcoding = world.transcoding
    base, _, segments, _ = await _rendition(world, LONG_TITLE, max_height=144)
    assert (await world.get(base + segments[3])).status_code == 200
    session = next(s for s in transcoding.hls._sessions.values() if s.rendition.plan.height == 144)
    assert session.child is not None and session.child.running
    # transcode_idle_s is 2 here; housekeeping looks every second.
    assert await _until(lambda: transcoding.processes.running == 0)
    assert not any(transcoding.cache.work.iterdir())  # its work folder went with it


async def test_an_encoder_far_ahead_of_its_player_waits(world: World) -> None:
    transcoding = world.transcoding
    idle_s, transcoding.hls.idle_s = transcoding.hls.idle_s, 60  # a paused encoder is not an abandoned one
    try:
        await _paused_until_caught_up(world)
    finally:
        transcoding.hls.idle_s = idle_s


async def _paused_until_caught_up(world: World) -> None:
    transcoding = world.transcoding
    base, _, segments, _ = await _rendition(world, LONG_TITLE, max_height=160)
    assert (await world.get(base + segments[0])).status_code == 200
    session = next(s for s in transcoding.hls._sessions.values() if s.rendition.plan.height == 160)
    assert await _until(lambda: session.child is not None and session.child.paused), session.made
    assert session.child is not None
    # AHEAD segments past the one asked for (plus what it makes before the next housekeeping round), then
    # it waits, far from the end of the 50.
    assert 5 <= session.made < 40
    made = session.made
    await asyncio.sleep(1.5)
    assert session.made == made  # paused: nothing more
    assert (await world.get(base + segments[made])).status_code == 200  # the player caught up: it goes on
    assert await _until(lambda: session.made > made)


async def test_a_token_opens_only_its_own_item(world: World) -> None:
    base, init, segments, _ = await _rendition(world, "mkv_h264_ac3")
    other = world.items["avi_mpeg4_mp3"]["stream_url"].split("token=")[1]
    mine = segments[0].split("token=")[1]
    assert (await world.get(base + segments[0])).status_code == 200
    r = await world.get(base + segments[0].replace(mine, other))
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    r = await world.get(base + init.replace(mine, "junk"))
    assert r.status_code == 401
    other_base = base.replace(f"/media/{world.items['mkv_h264_ac3']['id']}/",
                              f"/media/{world.items['avi_mpeg4_mp3']['id']}/")
    assert (await world.get(other_base + segments[0])).status_code == 401  # this item's token, that item


async def test_bad_segments_and_renditions_are_refused(world: World) -> None:
    base, _, segments, _ = await _rendition(world, "mkv_h264_ac3")
    token = segments[0].split("?")[1]
    assert (await world.get(base + f"3.m4s?{token}")).status_code == 404  # past the end (3 segments)
    assert (await world.get(base.replace("copy_aac_0", "h264-2000-3000_aac_0") + f"0.m4s?{token}")).status_code == 422
    assert (await world.get(base.replace("copy_aac_0", "bogus") + f"0.m4s?{token}")).status_code == 404
    assert (await world.get(base.replace("copy_aac_0", "copy_aac_7") + f"0.m4s?{token}")).status_code == 422
