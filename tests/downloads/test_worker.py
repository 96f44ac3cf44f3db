"""`medianest worker` as its own process: killed with -9 in the middle of a download, a new worker
picks the job up, resumes the partial file and finishes; nothing is fetched twice or left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from medianest.config import Settings
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
           "MEDIANEST_DOWNLOADS_STALE_AFTER_S": str(STALE_AFTER_S), "MEDIANEST_DOWNLOADS_RETRY_BACKOFF_S": "0.2"}
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
