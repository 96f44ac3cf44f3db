"""Progress throttling: however often yt-dlp reports, at most 4 events a second per download."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.downloads import jobs
from medianest.downloads.models import Download
from medianest.events import DOWNLOAD_PROGRESS
from tests.conftest import Api


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        self.sent.append((event, payload))


async def test_progress_is_throttled_and_monotonic(api: Api, app: FastAPI, settings: Settings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await api.setup_admin()
    async with app.state.sessions() as session:
        dl = Download(user_id=1, url="http://example.invalid/x", status="running")
        session.add(dl)
        await session.commit()
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    recorder = Recorder()
    runner = jobs.Runner(app.state.sessions, settings, recorder)
    progress = jobs._Progress(items=1)
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
    async with app.state.sessions() as session:
        stored = await session.get(Download, dl.id)
        assert stored is not None and stored.percent == percents[-1]


async def test_requeue_takes_back_only_silent_running_downloads(api: Api, app: FastAPI) -> None:
    await api.setup_admin()
    now = utcnow()
    async with app.state.sessions() as session:
        rows = {"alive": Download(user_id=1, url="u", status="running", heartbeat_at=now),
                "silent": Download(user_id=1, url="u", status="running", heartbeat_at=now - timedelta(minutes=5)),
                "waiting": Download(user_id=1, url="u", status="queued"),
                "done": Download(user_id=1, url="u", status="completed")}
        session.add_all(rows.values())
        await session.commit()
    sent: list[int] = []
    queue = SimpleNamespace(enqueue=sent.append)

    assert await jobs.requeue_stale(app.state.sessions, queue, 60) == [rows["silent"].id]  # type: ignore[arg-type]
    assert await jobs.requeue_stale(app.state.sessions, queue, 60,  # type: ignore[arg-type]
                                    include_queued=True) == sorted([rows["silent"].id, rows["waiting"].id])
    async with app.state.sessions() as session:
        statuses = {name: (await session.get(Download, row.id)).status for name, row in rows.items()}  # type: ignore[union-attr]
    assert statuses == {"alive": "running", "silent": "queued", "waiting": "queued", "done": "completed"}
    assert sent == [rows["silent"].id, rows["silent"].id, rows["waiting"].id]
