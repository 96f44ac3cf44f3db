"""The encoders of a real `medianest serve` over real HTTP: a client that disconnects stops its encoder,
and a server killed with -9 takes its encoders with it and leaves nothing its next start does not clean."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medianest.library.ffmpeg import run_ffmpeg
from tests.liveserver import LiveServer, cmdline, parent_pids, rescan, serve

LONG_AUDIO = "Long Tone"  # 20 minutes: FFmpeg's AAC encoder takes about 15 s on it here
LONG_VIDEO = "Long Picture"


def _until(check: Callable[[], bool], timeout_s: float = 15) -> bool:
    """Whether `check` holds within `timeout_s` (a wait, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _encoders(data_dir: Path) -> list[int]:
    """The ffmpeg processes writing into this server's transcode folder."""
    found = []
    for pid in parent_pids():
        try:
            line = cmdline(pid)
        except OSError:
            continue
        if "ffmpeg" in line.split(" ")[0] and (str(data_dir) in line or _cwd_in(pid, data_dir)):
            found.append(pid)
    return found


def _cwd_in(pid: int, data_dir: Path) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(str(data_dir))
    except OSError:
        return False


def _item(server: LiveServer, title: str) -> dict[str, Any]:
    r = httpx.get(f"{server.base_url}/api/v1/media", params={"q": title}, headers=server.headers())
    return next(m for m in r.json()["data"] if m["title"] == title)


@pytest.fixture(scope="module")
def long_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long-media")
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1200:sample_rate=16000", "-metadata",
                f"title={LONG_AUDIO}", "-c:a", "flac", str(folder / "long.flac")])
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=12:duration=300", "-f", "lavfi", "-i",
                "sine=duration=300", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "ac3", "-metadata",
                f"title={LONG_VIDEO}", str(folder / "long.mkv")])
    return folder


@pytest.fixture
def server(tmp_path: Path, media_source: tuple[Path, dict[str, str]], long_media: Path) -> Iterator[LiveServer]:
    with serve(tmp_path, media_source[0], extra_env={"MEDIANEST_TRANSCODE_IDLE_S": "30"}) as live:
        for f in long_media.iterdir():
            (live.media_dir / f.name).write_bytes(f.read_bytes())
        assert rescan(live)["status"] == "completed"
        yield live


def test_a_client_that_disconnects_stops_its_encoder(server: LiveServer) -> None:
    url = server.base_url + _item(server, LONG_AUDIO)["stream_url"] + "&format=aac&bitrate=128"
    with httpx.stream("GET", url) as r:
        assert r.status_code == 200
        body = r.iter_bytes()  # held: a dropped iterator closes the response, i.e. disconnects
        next(body)
        assert len(_encoders(server.data_dir)) == 1  # encoding, far from done
    assert _until(lambda: not _encoders(server.data_dir), 10), "the encoder outlived its only listener"
    transcodes = server.data_dir / "transcodes"
    assert not list((transcodes / "audio").iterdir())  # nothing half-made was kept as finished
    assert not any(p.is_file() for p in (transcodes / "work").rglob("*"))


def test_kill_9_takes_the_encoders_along_and_the_next_start_cleans_up(tmp_path: Path,
                                                                       media_source: tuple[Path, dict[str, str]],
                                                                       server: LiveServer) -> None:
    video = _item(server, LONG_VIDEO)
    decision = httpx.get(f"{server.base_url}/api/v1/media/{video['id']}/playback", params={"max_height": 144},
                         headers=server.headers()).json()["data"]
    base = server.base_url + decision["url"].split("index.m3u8")[0]
    token = decision["url"].split("token=")[1]
    assert httpx.get(f"{base}2.m4s?token={token}", timeout=30).status_code == 200
    audio_url = server.base_url + _item(server, LONG_AUDIO)["stream_url"] + "&format=aac"
    with httpx.stream("GET", audio_url) as r:
        body = r.iter_bytes()
        next(body)
        assert len(_encoders(server.data_dir)) == 2
        pid = server.process.pid
        os.kill(pid, signal.SIGKILL)
        server.process.wait()
    assert _until(lambda: not _encoders(server.data_dir), 10), "encoders outlived their server"
    work = server.data_dir / "transcodes" / "work"
    mine = work / f"{socket.gethostname()}-{pid}"
    assert mine.exists()  # what it was writing is still there...
    finished = list((server.data_dir / "transcodes" / "hls").rglob("s2.m4s"))
    assert finished, "the finished segment went with the crash"
    with serve(tmp_path / "again", media_source[0], setup_admin=False,
               extra_env={"MEDIANEST_DATA_DIR": str(server.data_dir)}) as again:
        assert not mine.exists()  # ...until the next start
        assert [p.name for p in work.iterdir()] == [f"{socket.gethostname()}-{again.process.pid}"]
        assert all(p.exists() for p in finished)  # finished segments stay: they are still good
        assert not list((server.data_dir / "transcodes" / "audio").iterdir())
