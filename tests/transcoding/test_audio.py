"""Progressive audio transcodes on the stream route (`?format=&bitrate=&offset=`): what comes out is checked
by probing it with FFmpeg, never by its name; finished transcodes are cached and then served with Ranges;
bad files and a full house answer in the error envelope."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import pytest

from medianest.streaming.response import FileInfo
from tests.conftest import bearer
from tests.transcoding.conftest import DOOMED_TITLE, LONG_TITLE, NOISE_TITLE, World, probe_bytes

MP3_FRAME_SAMPLES = 1152


async def _stream(world: World, name: str, method: str = "GET", headers: dict[str, str] | None = None,
                  **params: Any) -> Any:
    url = world.items[name]["stream_url"] + "".join(f"&{k}={v}" for k, v in params.items())
    return await world.client.request(method, url, headers=headers or {})


def _save(tmp_path: Path, body: bytes, ext: str) -> Path:
    path = tmp_path / f"out.{ext}"
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(("fmt", "kbps", "codec", "ext"), [("mp3", 128, "mp3", "mp3"), ("opus", 96, "opus", "ogg"),
                                                           ("aac", 128, "aac", "aac"), ("flac", None, "flac", "flac")])
async def test_each_format_comes_out_as_asked(world: World, tmp_path: Path, fmt: str, kbps: int | None, codec: str,
                                              ext: str) -> None:
    params = {"format": fmt} | ({"bitrate": kbps} if kbps else {})
    r = await _stream(world, NOISE_TITLE, **params)
    assert r.status_code == 200, r.text
    assert float(r.headers["x-content-duration"]) == pytest.approx(30, abs=0.1)
    got = probe_bytes(_save(tmp_path, r.content, ext))
    assert got["audio"] == codec
    assert got["duration"] == pytest.approx(30, abs=1)
    if kbps:
        assert got["bit_rate"] == pytest.approx(kbps * 1000, rel=0.1), got


async def test_an_offset_starts_there(world: World, tmp_path: Path) -> None:
    r = await _stream(world, NOISE_TITLE, format="mp3", bitrate=128, offset=12.5)
    assert r.status_code == 200
    assert float(r.headers["x-content-duration"]) == pytest.approx(17.5, abs=0.01)
    # The whole is 30 s: what is left after 12.5 s is 17.5 s; within 1 s, so it starts within 1 s of 12.5.
    assert probe_bytes(_save(tmp_path, r.content, "mp3"))["duration"] == pytest.approx(17.5, abs=1)
    r = await _stream(world, NOISE_TITLE, format="mp3", offset=31)
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "offset"


async def test_a_finished_transcode_is_a_cached_file_with_ranges(world: World, tmp_path: Path) -> None:
    first = await _stream(world, "wma", format="mp3", bitrate=160)
    assert first.status_code == 200 and first.headers["accept-ranges"] == "none"
    again = await _stream(world, "wma", format="mp3", bitrate=160)
    assert again.headers["accept-ranges"] == "bytes" and len(again.content) == len(first.content)
    # The same audio; only the header frame, written last, differs from what the first listener got.
    assert again.content[4096:] == first.content[4096:]
    assert again.headers["x-content-duration"] == first.headers["x-content-duration"]
    part = await _stream(world, "wma", headers={"range": "bytes=10000-10999"}, format="mp3", bitrate=160)
    assert part.status_code == 206 and part.content == first.content[10000:11000]
    # Every player can seek in it: the Xing/Info header counts the frames there really are.
    body = again.content
    at = max(body.find(b"Xing", 0, 4096), body.find(b"Info", 0, 4096))
    assert at > 0, "no Xing/Info header"
    (flags,) = struct.unpack(">I", body[at + 4:at + 8])
    assert flags & 1, "no frame count in the Xing header"
    (frames,) = struct.unpack(">I", body[at + 8:at + 12])
    seconds = probe_bytes(_save(tmp_path, body, "mp3"))["duration"]
    assert frames * MP3_FRAME_SAMPLES / 44100 == pytest.approx(seconds, abs=0.1)
    assert seconds == pytest.approx(14, abs=1)


async def test_the_codec_is_copied_when_only_the_container_differs(world: World, tmp_path: Path) -> None:
    r = await _stream(world, "mkv_two_audio", format="aac", audio_track=1)
    assert r.status_code == 200
    got = probe_bytes(_save(tmp_path, r.content, "aac"))
    assert got["audio"] == "aac" and got["bit_rate"] == pytest.approx(96_000, rel=0.15)  # as in the file


async def test_head_starts_nothing(world: World) -> None:
    running = world.transcoding.processes.running
    r = await _stream(world, LONG_TITLE, method="HEAD", format="opus", bitrate=64)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg" and r.content == b""
    assert float(r.headers["x-content-duration"]) == pytest.approx(300, abs=1)
    assert world.transcoding.processes.running == running
    assert not list(world.transcoding.cache.audio.glob("*.ogg")) or all(
        p.stat().st_size for p in world.transcoding.cache.audio.glob("*.ogg"))


async def test_a_corrupt_file_is_a_clear_error_not_a_hung_request(world: World) -> None:
    item = world.items[DOOMED_TITLE]
    path = Path(world.root / "media" / "doomed.mkv")
    head = path.read_bytes()[:64]
    path.write_bytes(head + b"\x00garbage" * 4000)  # the scan saw a good file; it is broken now
    r = await asyncio.wait_for(_stream(world, DOOMED_TITLE, format="mp3"), 20)
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNPLAYABLE", r.text
    r = await world.client.get(f"/api/v1/media/{item['id']}/playback", headers=bearer(world.token))
    assert r.status_code == 422 and "cannot be decoded" in r.json()["error"]["message"]
    assert world.transcoding.processes.running == 0
    assert not list(world.transcoding.cache.work.iterdir())


async def test_a_failing_encoder_is_a_clear_error_that_names_no_path(world: World, tmp_path: Path) -> None:
    from medianest.errors import Unplayable
    from medianest.transcoding.audio import AudioRequest
    from medianest.transcoding.decide import AudioPlan

    gone = str(tmp_path / "secret-folder" / "gone.flac")  # ffmpeg's own error line names it
    request = AudioRequest(gone, 1, 1.0, AudioPlan("mp3", 128), 0, 0)
    with pytest.raises(Unplayable) as caught:
        await asyncio.wait_for(world.transcoding.audio.open(request), 20)
    assert "FFmpeg stopped with an error" in caught.value.message
    assert "secret-folder" not in caught.value.message
    assert world.transcoding.processes.running == 0
    assert not list(world.transcoding.cache.work.glob("*.mp3"))


async def test_over_the_limit_is_503_with_retry_after_and_readers_leaving_stop_the_encoders(world: World) -> None:
    transcoding = world.transcoding
    info = await _file_info(world, LONG_TITLE)
    held = [_paused(world, await transcoding.audio_stream(info, "mp3", kbps, 0, None))
            for kbps in (96, 112, 128)]  # the limit: 3
    try:
        assert transcoding.processes.running == 3
        r = await _stream(world, NOISE_TITLE, format="opus", bitrate=72)
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text[:200]
        assert r.json()["error"]["code"] == "UNAVAILABLE"
        for source in held:
            await source.body.__anext__()
    finally:
        for source in held:  # as when each client disconnects
            await source.body.aclose()
    await asyncio.sleep(0.1)
    assert transcoding.processes.running == 0
    assert not list(transcoding.cache.work.glob("*.mp3"))  # their partial files are gone
    assert (await _stream(world, NOISE_TITLE, format="opus", bitrate=72)).status_code == 200


async def test_two_listeners_share_one_encoder(world: World) -> None:
    transcoding = world.transcoding
    info = await _file_info(world, LONG_TITLE)
    one = _paused(world, await transcoding.audio_stream(info, "aac", 80, 0, None))
    two = await transcoding.audio_stream(info, "aac", 80, 0, None)
    try:
        assert transcoding.processes.running == 1
        a, b = await one.body.__anext__(), await two.body.__anext__()
        assert a[:16] == b[:16]
        await one.body.aclose()
        assert transcoding.processes.running == 1  # the other still listens
    finally:
        await one.body.aclose()
        await two.body.aclose()
    await asyncio.sleep(0.1)
    assert transcoding.processes.running == 0


def _paused(world: World, source: Any) -> Any:
    """`source`, its encoder paused (SIGSTOP): still running, however fast this machine would finish it."""
    job = world.transcoding.audio._jobs[source.request.key]
    job.child.pause()
    return source


async def _file_info(world: World, name: str) -> FileInfo:
    access = world.api.app.state.parts.stream_access
    _, info = await access.file(int(world.items[name]["id"]))
    assert isinstance(info, FileInfo)
    return info
