"""`medianest worker` as its own process: killed with -9 in the middle of a download, a new worker
picks the job up, resumes the partial file and finishes; nothing is fetched twice or left behind."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from medianest.config import Settings
from medianest.downloads import process
from medianest.downloads.spec import Failure
from tests.conftest import CHEAP_PASSWORDS, Api, bearer
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer

STALE_AFTER_S = 3


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The API here only queues; worker processes run the jobs."""
    library = tmp_path / "library"
    library.mkdir()
    return Settings(data_dir=tmp_path / "data", media_dirs=[library], database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING", queue_consumer="off",
                    downloads_allow_private_networks=True, downloads_retry_backoff_s=0.2,
                    downloads_stale_after_s=STALE_AFTER_S, **CHEAP_PASSWORDS,
                    api_rate_limit="100000/minute")  # wait_status polls 10 times a second (see conftest)


@contextmanager
def worker(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(settings.data_dir),
           "MEDIANEST_MEDIA_DIRS": str(settings.library_dirs[0]), "MEDIANEST_DATABASE_URL": settings.db_url,
           "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "MEDIANEST_LOG_LEVEL": "WARNING",
           "MEDIANEST_DOWNLOADS_STALE_AFTER_S": str(STALE_AFTER_S), "MEDIANEST_DOWNLOADS_RETRY_BACKOFF_S": "0.2",
           "PYTHONUNBUFFERED": "1"}  # its log read while it runs, and whole if it is killed
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medianest", "worker"], env=env, stdout=out, stderr=out)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def _until_sent(server: MediaServer, path: str, nbytes: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s  # start-up of a worker included; a deadline, not a speed check
    while server.bytes_sent(path) < nbytes:
        assert time.monotonic() < deadline, "the download did not start"
        await asyncio.sleep(0.1)


async def test_a_killed_worker_s_download_is_resumed_by_the_next(
        api: Api, app: FastAPI, server: MediaServer, settings: Settings, sources: dict[str, Path],
        tmp_path: Path) -> None:
    path = "/media/big.mp4"
    server.throttle(path, 400_000)
    token = await api.setup_admin()
    queued = await queue(api, token, server.url(path))
    with worker(settings, tmp_path / "worker.log") as first:
        await _until_sent(server, path, 1_200_000)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    await asyncio.sleep(2)
    stopped_at = server.bytes_sent(path)
    await asyncio.sleep(1.5)
    assert server.bytes_sent(path) == stopped_at  # its yt-dlp child died with it: no orphan fetching
    row = (await api.client.get(f"/api/v1/downloads/{queued['id']}", headers=bearer(token))).json()["data"]
    assert row["status"] == "running" and row["media_ids"] == []

    server.throttle(path, None)
    with worker(settings, tmp_path / "worker.log"):
        done = await wait_status(api, token, queued["id"], "completed", "failed", timeout_s=120)
    assert done["status"] == "completed", (done, (tmp_path / "worker.log").read_text()[-2000:])
    resumed = [r.range for r in server.requests_for(path) if r.method == "GET" and r.range]
    assert resumed and int(resumed[-1].removeprefix("bytes=").split("-")[0]) > 0  # the .part file was reused
    files = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == sources["big"].read_bytes()
    assert not any(p.is_file() for p in settings.downloads_tmp_dir.rglob("*"))


async def test_a_frozen_worker_s_download_taken_back_lands_once_and_whole(
        api: Api, app: FastAPI, server: MediaServer, settings: Settings, sources: dict[str, Path],
        tmp_path: Path) -> None:
    """A worker frozen past the staleness window (SIGSTOP: a paused VM, a swap storm) looks dead but is not:
    its yt-dlp child goes on writing. The next worker takes the download back; when the first thaws it
    learns so, stops its child and leaves the files, and the new run resumes them. One file lands, byte
    for byte the source (two writers on one `.part` file leave holes of zeros, or land it twice)."""
    path = "/media/big.mp4"
    server.throttle(path, 400_000)
    token = await api.setup_admin()
    queued = await queue(api, token, server.url(path))
    log = tmp_path / "worker.log"
    with worker(settings, log) as first:
        await _until_sent(server, path, 600_000)
        first_run = (await _row(api, token, queued["id"]))["started_at"]
        first.send_signal(signal.SIGSTOP)
        try:
            with worker(settings, log):
                deadline = time.monotonic() + 120
                while (await _row(api, token, queued["id"]))["started_at"] == first_run:
                    assert time.monotonic() < deadline, "the frozen worker's download was not taken back"
                    await asyncio.sleep(0.2)
                await asyncio.sleep(2)  # the new run's child is under way (or waiting for the old one)
                first.send_signal(signal.SIGCONT)
                server.throttle(path, None)
                done = await wait_status(api, token, queued["id"], "completed", "failed", timeout_s=120)
        finally:
            first.send_signal(signal.SIGCONT)
    assert done["status"] == "completed", (done, log.read_text()[-2000:])
    assert "taken back by another worker" in log.read_text()
    files = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == sources["big"].read_bytes()
    media = (await api.client.get("/api/v1/media", headers=bearer(token))).json()["data"]
    assert len(media) == 1
    assert not any(p.is_file() for p in settings.downloads_tmp_dir.rglob("*"))


async def _row(api: Api, token: str, download_id: int) -> dict[str, Any]:
    return dict((await api.client.get(f"/api/v1/downloads/{download_id}", headers=bearer(token))).json()["data"])


def test_a_second_writer_waits_for_the_first_and_gives_up_as_transient(tmp_path: Path) -> None:
    folder = tmp_path / "1" / "0"
    folder.mkdir(parents=True)
    held = process.sole_writer(str(folder))
    try:
        with pytest.raises(Failure) as refused:
            process.sole_writer(str(folder), wait_s=0.3)
        assert refused.value.transient and "still writing" in refused.value.reason
    finally:
        os.close(held)
    os.close(process.sole_writer(str(folder), wait_s=0.3))  # free once the first closed


def test_a_writer_that_waited_for_a_folder_removed_meanwhile_locks_the_new_one(tmp_path: Path) -> None:
    folder = tmp_path / "1" / "0"
    folder.mkdir(parents=True)
    held = process.sole_writer(str(folder))
    threading.Timer(0.3, lambda: (shutil.rmtree(folder), os.close(held))).start()  # the first run finished
    second = process.sole_writer(str(folder), wait_s=10)
    try:
        assert folder.is_dir() and os.path.samestat(os.fstat(second), folder.stat())
        with pytest.raises(Failure):
            process.sole_writer(str(folder), wait_s=0.2)  # and holds it
    finally:
        os.close(second)
