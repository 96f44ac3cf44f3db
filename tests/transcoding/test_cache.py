"""The transcode cache: a size bound that holds (least recently used entries go first), work in progress
never visible as a finished entry, and what a dead process left behind removed at the next start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medianest.transcoding.cache import TranscodeCache
from tests.transcoding.conftest import NOISE_TITLE, World

KB = 1024


def _entry(cache: TranscodeCache, name: str, size: int, used: float) -> Path:
    path = cache.audio / name
    path.write_bytes(os.urandom(size))
    os.utime(path, (used, used))
    return path


def test_the_least_recently_used_go_first_and_the_bound_holds(tmp_path: Path) -> None:
    cache = TranscodeCache(tmp_path / "t", 130 * KB)
    cache.prepare()
    now = time.time()
    old, mid, new = (_entry(cache, n, 40 * KB, now - age) for n, age in (("old", 300), ("mid", 200), ("new", 100)))
    os.utime(old, (now, now))  # just read: the least recently used is now `mid`
    done = cache.work_path("done.mp3")
    done.write_bytes(os.urandom(30 * KB))
    cache.promote(done, cache.audio_path("fresh", "mp3"))
    assert not mid.exists() and old.exists() and new.exists() and cache.audio_path("fresh", "mp3").exists()
    assert cache.size() <= cache.max_bytes
    # HLS folders are entries too, swept as a whole.
    folder = cache.hls_dir("1-abc-copy_aac_0")
    folder.mkdir()
    (folder / "s0.m4s").write_bytes(os.urandom(50 * KB))
    os.utime(folder, (now - 1000, now - 1000))
    cache.sweep()
    assert not folder.exists() and cache.size() <= cache.max_bytes


def test_work_in_progress_counts_and_is_never_swept(tmp_path: Path) -> None:
    cache = TranscodeCache(tmp_path / "t", 100 * KB)
    cache.prepare()
    kept = _entry(cache, "kept", 50 * KB, time.time())
    (cache.work_path("running.mp3")).write_bytes(os.urandom(70 * KB))
    cache.sweep()
    assert not kept.exists() and cache.work_path("running.mp3").exists()


def test_what_a_dead_process_left_is_removed_at_start(tmp_path: Path) -> None:
    root = tmp_path / "t"
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    leftover = root / "work" / f"{host}-{dead.stdout.strip()}" / "hls-x"
    leftover.mkdir(parents=True)
    (leftover / "s3.m4s").write_bytes(b"half a segment")
    living = root / "work" / f"{host}-{os.getppid()}"  # another process, still running: its work stays
    living.mkdir(parents=True)
    # Another container on the same data volume: its pids mean nothing here. Left alone while it may be
    # working; removed once it has not changed for a day.
    elsewhere = root / "work" / f"other-container-{dead.stdout.strip()}"
    gone_elsewhere = root / "work" / "gone-container-1"
    for folder in (elsewhere, gone_elsewhere):
        folder.mkdir(parents=True)
    day_ago = time.time() - 25 * 3600
    os.utime(gone_elsewhere, (day_ago, day_ago))
    cache = TranscodeCache(root, 100 * KB)
    cache.prepare()
    assert not leftover.parent.exists() and living.exists() and cache.work.is_dir()
    assert elsewhere.exists() and not gone_elsewhere.exists()


async def test_the_server_keeps_its_cache_within_the_bound(world: World) -> None:
    cache = world.transcoding.cache
    bound = cache.max_bytes
    cache.max_bytes = cache.size() + 700 * KB  # room for one or two of the transcodes below
    try:
        url = world.items[NOISE_TITLE]["stream_url"]
        for kbps in (96, 112, 128, 144, 160):  # about 360 KB to 600 KB each
            r = await world.client.get(f"{url}&format=mp3&bitrate={kbps}")
            assert r.status_code == 200
            assert cache.size() <= cache.max_bytes
        assert len(list(cache.audio.glob("*.mp3"))) >= 1
    finally:
        cache.max_bytes = bound


async def test_a_broken_hardware_setting_falls_back_to_software(world: World) -> None:
    import structlog

    from medianest.transcoding.encoders import usable_encoder

    ffmpeg = world.transcoding.hls.ffmpeg
    with structlog.testing.capture_logs() as logs:
        encoder = await usable_encoder(ffmpeg, "vaapi", "/dev/dri/no-such-device")
    assert encoder.hwaccel == "none"
    warning = next(e for e in logs if e["log_level"] == "warning")
    assert warning["hwaccel"] == "vaapi" and "software" in warning["event"] and warning["reason"]
    assert (await usable_encoder(ffmpeg, "none", "")).hwaccel == "none"


@pytest.mark.parametrize("hwaccel", ["nvenc", "qsv"])
async def test_other_hardware_encoders_fall_back_here_too(world: World, hwaccel: str) -> None:
    from medianest.transcoding.encoders import usable_encoder

    # No GPU on this machine: the setting must not break transcoding.
    assert (await usable_encoder(world.transcoding.hls.ffmpeg, hwaccel, "")).hwaccel == "none"
