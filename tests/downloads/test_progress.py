"""Progress: however often yt-dlp reports, at most 4 events a second per download; a small download still
sends a first and a last one; percent and bytes never go back (a retry, the next item of a playlist); a
finished download reports the bytes it really fetched."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.downloads import rows
from medianest.downloads import tasks as download_tasks
from medianest.downloads.models import FINISHED, Download
from medianest.downloads.progress import Progress
from medianest.downloads.runner import Runner
from medianest.events import DOWNLOAD_COMPLETED, DOWNLOAD_PROGRESS
from medianest.jobs.context import JobContext
from medianest.jobs.queue import Jobs
from tests.conftest import Api, bearer
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        self.sent.append((event, payload))


async def test_progress_is_throttled_and_monotonic(api: Api, app: FastAPI, settings: Settings) -> None:
    await api.setup_admin()
    async with app.state.parts.sessions() as session:
        dl = Download(user_id=1, url="http://example.invalid/x", status="running")
        session.add(dl)
        await session.commit()
    clock = [1000.0]
    recorder = Recorder()
    runner = Runner(JobContext(settings, app.state.parts.sessions, recorder), clock=lambda: clock[0])
    progress = Progress(items=1)
    # 200 reports over 2 seconds, with the byte count wobbling back now and then (a new attempt).
    for i in range(200):
        downloaded = 1000 * i - (500 if i % 7 == 0 else 0)
        await runner._on_message(dl, {"type": "progress", "downloaded": max(downloaded, 0), "total": 200_000,
                                      "speed": 1.0, "eta": 1}, progress)
        clock[0] += 0.01
    sent = [p for e, p in recorder.sent if e == DOWNLOAD_PROGRESS]
    assert 6 <= len(sent) <= 9  # 4 a second over 2 seconds, give or take the edges
    percents = [p["percent"] for p in sent]
    assert percents == sorted(percents) and percents[-1] > 90
    async with app.state.parts.sessions() as session:
        stored = await session.get(Download, dl.id)
        assert stored is not None and stored.percent == percents[-1]


async def test_requeue_takes_back_only_silent_running_downloads(api: Api, app: FastAPI) -> None:
    await api.setup_admin()
    now = utcnow()
    async with app.state.parts.sessions() as session:
        made = {"alive": Download(user_id=1, url="u", status="running", heartbeat_at=now),
                "silent": Download(user_id=1, url="u", status="running", heartbeat_at=now - timedelta(minutes=5)),
                "waiting": Download(user_id=1, url="u", status="queued"),
                "done": Download(user_id=1, url="u", status="completed")}
        session.add_all(made.values())
        await session.commit()
    assert await rows.requeue_stale(app.state.parts.sessions, 60) == [made["silent"].id]
    assert await rows.requeue_stale(app.state.parts.sessions, 60,
                                    include_queued=True) == sorted([made["silent"].id, made["waiting"].id])
    async with app.state.parts.sessions() as session:
        statuses = {name: (await session.get(Download, row.id)).status for name, row in made.items()}  # type: ignore[union-attr]
    assert statuses == {"alive": "running", "silent": "queued", "waiting": "queued", "done": "completed"}


async def test_the_requeue_watcher_queues_what_it_takes_back(api: Api, app: FastAPI, settings: Settings,
                                                             tmp_path: Path) -> None:
    """The watcher the downloads register: its first round (start-up) queues the silent and the queued
    rows again, later rounds the silent ones only; each as a "download N" message on the queue."""
    await api.setup_admin()
    async with app.state.parts.sessions() as session:
        silent = Download(user_id=1, url="u", status="running", heartbeat_at=utcnow() - timedelta(minutes=5))
        waiting = Download(user_id=1, url="u", status="queued")
        session.add_all([silent, waiting])
        await session.commit()
    jobs = Jobs(settings.model_copy(update={"data_dir": tmp_path / "own-queue"}))  # nobody consumes it
    download_tasks.register(jobs)
    (watcher,) = [w for w in jobs.watchers if w.name == "downloads.requeue"]
    await watcher.fn(app.state.parts.sessions, True)
    async with app.state.parts.sessions() as session:
        await session.execute(update(Download).where(Download.id == silent.id)
                              .values(status="running", heartbeat_at=utcnow() - timedelta(minutes=5)))
        await session.commit()
    await watcher.fn(app.state.parts.sessions, False)
    queued = [(task.name, task.args) for task in jobs.huey.pending()]
    assert queued == [(download_tasks.TASK, (silent.id,)), (download_tasks.TASK, (waiting.id,)),
                      (download_tasks.TASK, (silent.id,))]


def _events(app: FastAPI, download_id: str, event: str) -> list[dict[str, Any]]:
    return [p for e, p, _ in app.state.parts.notifier.recent if e == event and p["id"] == download_id]


async def _announced(app: FastAPI, download_id: str, event: str, timeout_s: float = 10) -> list[dict[str, Any]]:
    """The `event`s of the download, once at least one has arrived (a wait, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := _events(app, download_id, event):
            return found
        await asyncio.sleep(0.02)
    return _events(app, download_id, event)


def _never_back(rows: list[dict[str, Any]]) -> None:
    for key in ("downloaded_bytes", "percent"):
        values = [row[key] for row in rows]
        assert values == sorted(values), (key, values)


async def test_a_small_download_sends_progress_and_reports_the_bytes_it_fetched(
        api: Api, app: FastAPI, server: MediaServer, sources: dict[str, Path], settings: Settings) -> None:
    size = sources["song"].stat().st_size  # ~25 KB: fetched well within one progress interval
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, server.url("/media/song.mp3")))["id"],
                             "completed", "failed")
    assert done["status"] == "completed", done
    assert done["downloaded_bytes"] == done["total_bytes"] == size
    [file] = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    assert file.stat().st_size == size

    # The row says completed a moment before the event crosses from the job's thread to the app's loop.
    [completed] = await _announced(app, done["id"], DOWNLOAD_COMPLETED)
    progress = _events(app, done["id"], DOWNLOAD_PROGRESS)
    assert len(progress) >= 2, progress  # a first one, and the last one with everything
    assert progress[-1]["downloaded_bytes"] == progress[-1]["total_bytes"] == size
    assert progress[-1]["percent"] == 100
    _never_back(progress)
    assert completed["downloaded_bytes"] == completed["total_bytes"] == size


async def test_progress_never_goes_back_across_a_retry_and_the_next_item(
        api: Api, app: FastAPI, server: MediaServer, sources: dict[str, Path]) -> None:
    # The big file first: its download drops after 1 MB and is resumed by a second attempt; then the
    # small one, whose bytes must add to the big one's instead of starting again from 0. yt-dlp GETs
    # each item's URL twice (a look, then the download): the second GET is the one dropped.
    server.drop_after("/media/big.mp4", 1_000_000, times=2)
    videos = "".join(f"<video src='{server.url(p)}'></video>" for p in ("/media/big.mp4", "/media/clip.mp4"))
    page = server.add_bytes("/watch/both", f"<html><title>Both</title><body>{videos}</body></html>".encode(),
                            "text/html; charset=utf-8")
    token = await api.setup_admin()
    queued = await queue(api, token, page)
    stored, deadline = [], time.monotonic() + 120
    while not stored or stored[-1]["status"] not in FINISHED:  # what the API shows, as often as it can
        r = await api.client.get(f"/api/v1/downloads/{queued['id']}", headers=bearer(token))
        stored.append(r.json()["data"])
        assert time.monotonic() < deadline, stored[-1]
        await asyncio.sleep(0.05)
    done = stored[-1]
    assert done["status"] == "completed", done
    resumed = [r.range for r in server.requests_for("/media/big.mp4") if r.range and r.range != "bytes=0-"]
    assert resumed, server.requests_for("/media/big.mp4")  # the first item really was retried mid-way
    _never_back(stored)
    _never_back(_events(app, done["id"], DOWNLOAD_PROGRESS))
    both = sources["big"].stat().st_size + sources["clip"].stat().st_size
    assert done["downloaded_bytes"] == done["total_bytes"] == both
