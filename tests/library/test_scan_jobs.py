"""Scans are jobs of the queue (library/tasks.py): requested through the API, run by the consumer; one
scan at a time however many ask; a scan running when the server shuts down stops and says so; a queued
scan nobody may run any more is not run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.app import create_app
from medianest.config import Settings
from medianest.db.engine import create_engine, create_session_factory
from medianest.library.models import SCAN_COMPLETED, SCAN_INTERRUPTED, SCAN_QUEUED, Scan
from medianest.library.scanner import ProgressFn, Scanner, ScanStats
from medianest.library.scans import SHUT_DOWN
from tests.conftest import Api


async def test_a_scan_is_a_queued_job_and_many_requests_make_one_scan(api: Api) -> None:
    scans = api.app.state.parts.scans
    started = await asyncio.gather(*(scans.start(requested_by=None) for _ in range(5)))
    assert len({scan.id for scan in started}) == 1
    await scans.wait()
    done = await scans.get(started[0].id)
    assert done.status == SCAN_COMPLETED and done.total > 0
    assert done.owner is not None and done.started_at is not None  # claimed by the consumer that ran it


async def test_a_scan_running_at_shutdown_is_marked_interrupted(settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    batches = asyncio.Event()

    async def endless(self: Scanner, progress: ProgressFn | None) -> ScanStats:
        """A library that takes forever: a batch every 10 ms, each reported."""
        assert progress is not None
        stats = ScanStats(total=10**9)
        while True:
            stats.processed += 1
            await progress(stats)
            batches.set()  # (in the job's own loop: only read below once the app has stopped)
            await asyncio.sleep(0.01)

    monkeypatch.setattr(Scanner, "run", endless)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        parts = app.state.parts
        scan = await parts.scans.start(requested_by=None)
        for _ in range(600):  # until the consumer has it running
            if (await parts.scans.get(scan.id)).status != SCAN_QUEUED and batches.is_set():
                break
            await asyncio.sleep(0.05)
        events: list[Any] = parts.notifier.recent
    async with _sessions(settings) as session:
        row = await session.get(Scan, scan.id)
    assert row is not None and row.status == SCAN_INTERRUPTED and row.error == SHUT_DOWN
    assert row.finished_at is not None
    assert [p for e, p, _ in events if e == "library:scan-progress"][-1] == {
        "id": str(scan.id), "status": SCAN_INTERRUPTED, "error": SHUT_DOWN}


async def test_a_queued_scan_marked_interrupted_meanwhile_is_not_run(api: Api) -> None:
    scans = api.app.state.parts.scans
    async with scans.sessions() as session:
        scan = Scan(status=SCAN_INTERRUPTED, error="interrupted: its process stopped before it finished")
        session.add(scan)
        await session.commit()
    assert await scans.run(scan.id) is None  # the job of a scan reaped while it waited in the queue
    row = await scans.get(scan.id)
    assert row.status == SCAN_INTERRUPTED and row.started_at is None
    async with scans.sessions() as session:
        assert (await session.scalars(select(Scan.id))).all() == [scan.id]


@asynccontextmanager
async def _sessions(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the test's database after the app has gone."""
    engine = create_engine(settings.db_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()
