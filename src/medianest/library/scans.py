"""Scans as jobs: one at a time, recorded in the `scans` table, run by the queue (`library/tasks.py`
registers the task), progress sent through the Notifier.

`ScanRunner.start` records a queued scan and queues the "scan N" task; whichever process consumes the
queue (the server itself by default, `medianest worker` in the scaled mode) claims the row and runs it.
`medianest scan` runs one in its own process instead (`scan_here`).

A scan row names the process running it (`owner`, see liveness.py), which touches `heartbeat_at` every
`HEARTBEAT_S` while it runs. A scan left queued or running by a process that died (kill -9, power loss)
is marked interrupted when that is noticed - when the app starts, and whenever scans are read or one is
requested: at once when its process ran on this host and is gone, after `STALE_AFTER_S` without a
heartbeat otherwise (a process on another host, in the scaled mode). A scan running when its process
shuts down stops after the batch in hand and is marked interrupted (the next start-up scan redoes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy import select, update

from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.errors import NotFound
from medianest.events import LIBRARY_SCAN_PROGRESS, LIBRARY_UPDATED, SCAN_PROGRESS_INTERVAL_S, Notifier
from medianest.jobs.context import Landed
from medianest.jobs.queue import Task
from medianest.library import liveness
from medianest.library.buckets import BucketFolders
from medianest.library.folders import FolderStates, Offline, warn_offline_roots
from medianest.library.models import (
    SCAN_COMPLETED,
    SCAN_FAILED,
    SCAN_INTERRUPTED,
    SCAN_QUEUED,
    SCAN_RUNNING,
    Scan,
)
from medianest.library.scanner import PerVideo, ProgressFn, Scanner, ScanStats, Throttle

log = structlog.get_logger(__name__)

ACTIVE = (SCAN_QUEUED, SCAN_RUNNING)
HEARTBEAT_S = 5.0
# Two dozen missed heartbeats: a loaded machine or a slow database write never trips it.
STALE_AFTER_S = 120.0
WAIT_POLL_S = 0.05
SHUT_DOWN = "interrupted: the server shut down"


class _Stopping(Exception):
    """The process is shutting down: the scan ends after the batch in hand."""


class ScanRunner:
    """Records and queues scans (a second request joins the queued or running one), runs a queued one
    for the task, or one here for `medianest scan`."""

    def __init__(self, sessions: SessionFactory, roots: list[Path], artwork_dir: Path, notifier: Notifier,
                 landed: Landed | None = None, per_video: PerVideo | None = None, task: Task | None = None,
                 bucket: BucketFolders | None = None) -> None:
        self.sessions = sessions
        self.roots = roots
        self.landed = landed  # told when a scan changed the library (a Plex refresh)
        self.scanner = Scanner(sessions, roots, artwork_dir, per_video, bucket)
        self.notifier = notifier
        self.task = task  # the queue's "scan N" (None where scans are only run, not requested)
        # Which folders the last scan found offline, for the API's `available` and /health.
        self.folders = FolderStates(sessions, [*roots, *(bucket.roots if bucket else [])])
        self._starting = asyncio.Lock()

    async def on_start(self) -> None:
        """At start of the app: warn about configured folders missing now, and mark interrupted the
        scans a dead process left running."""
        await asyncio.to_thread(warn_offline_roots, self.roots)
        await self.reap()

    async def start(self, requested_by: int | None) -> Scan:
        """Queue a scan; a scan queued or running already (here or in another process) is returned
        instead."""
        if self.task is None:
            raise RuntimeError("this ScanRunner has no queue to start scans on")
        async with self._starting:  # one check-then-create at a time: two requests get one scan
            await self.reap()
            running = await self._active()
            if running is not None:
                return running
            scan = await self._create(requested_by)
        # The folders go with the job: the scan reads what this process serves, wherever it runs.
        await asyncio.to_thread(self.task.enqueue, scan.id, [str(root) for root in self.roots])
        return scan

    async def scan_here(self, on_progress: ProgressFn | None = None) -> tuple[Scan, ScanStats | None]:
        """Run a scan in this task (`medianest scan`), recorded like the others; its row and stats
        (None when it failed: the row says why)."""
        await self.reap()
        scan = await self._create(None)
        stats = await self.run(scan.id, on_progress)
        return await self._get(scan.id), stats

    async def get(self, scan_id: int) -> Scan:
        await self.reap()
        return await self._get(scan_id)

    async def latest(self) -> Scan | None:
        await self.reap()
        async with self.sessions() as session:
            return await session.scalar(select(Scan).order_by(Scan.id.desc()).limit(1))

    async def offline(self) -> Offline:
        return await self.folders.offline()

    async def reap(self) -> None:
        """Mark interrupted each queued or running scan whose process is gone."""
        now = utcnow()
        async with self.sessions() as session:
            rows = (await session.execute(select(Scan.id, Scan.status, Scan.owner, Scan.heartbeat_at)
                                          .where(Scan.status.in_(ACTIVE)))).all()
            dead = [(scan_id, why) for scan_id, status, owner, beat in rows
                    if (why := _why_dead(owner, beat if status == SCAN_RUNNING else None, now)) is not None]
            for scan_id, why in dead:
                await session.execute(update(Scan).where(Scan.id == scan_id, Scan.status.in_(ACTIVE))
                                      .values(status=SCAN_INTERRUPTED, finished_at=now, error=why))
            if dead:
                await session.commit()
        for scan_id, why in dead:
            log.warning("scan interrupted", scan_id=scan_id, reason=why)
            await self._ended(scan_id, SCAN_INTERRUPTED, why)

    async def run(self, scan_id: int, on_progress: ProgressFn | None = None,
                  stopping: threading.Event | None = None) -> ScanStats | None:
        """Run the queued scan `scan_id` (None, doing nothing, when it is not queued any more: marked
        interrupted meanwhile, or taken by another process); stop early when `stopping` is set."""
        if not await self._claim(scan_id):
            log.info("scan not run: it is not queued any more", scan_id=scan_id)
            return None
        stop_beating = asyncio.Event()
        heartbeat = asyncio.create_task(self._beat(scan_id, stop_beating))
        try:
            stats = await self.scanner.run(self._progress(scan_id, on_progress, stopping))
            self.folders.forget()
            await self._update(scan_id, status=SCAN_COMPLETED, finished_at=utcnow(),
                               offline_folders=_offline_list(stats), **_counts(stats))
            await self._announce(scan_id, stats)
            if self.landed and (stats.added or stats.removed):
                await self.landed(self.sessions, self.roots)
            return stats
        except (asyncio.CancelledError, _Stopping) as exc:
            await asyncio.shield(self._end(scan_id, SCAN_INTERRUPTED, SHUT_DOWN))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return None
        except Exception as exc:
            log.exception("scan failed", scan_id=scan_id)
            error = str(exc)[:500]
            await self._end(scan_id, SCAN_FAILED, error)
            return None
        finally:
            # Stopped, not cancelled: a write cut short by a cancel leaves its connection unusable.
            stop_beating.set()
            await asyncio.shield(heartbeat)

    async def wait(self) -> None:
        """Wait until no scan is queued or running (tests, the CLI); the folders' verdicts are read again."""
        # Polled: the scan runs in the queue's thread or in another process, which no Event here reaches.
        while await self._active() is not None:  # noqa: ASYNC110
            await asyncio.sleep(WAIT_POLL_S)
        self.folders.forget()

    async def _claim(self, scan_id: int) -> bool:
        """Take the queued row: running, owned by this process. False when it is not queued."""
        async with self.sessions() as session:
            now = utcnow()
            taken = await session.execute(
                update(Scan).where(Scan.id == scan_id, Scan.status == SCAN_QUEUED)
                .values(status=SCAN_RUNNING, started_at=now, owner=liveness.this_process(), heartbeat_at=now))
            await session.commit()
        return bool(getattr(taken, "rowcount", 0))

    async def _end(self, scan_id: int, status: str, error: str) -> None:
        """A scan ended without completing: recorded, then announced."""
        await self._update(scan_id, status=status, finished_at=utcnow(), error=error)
        await self._ended(scan_id, status, error)

    async def _ended(self, scan_id: int, status: str, error: str) -> None:
        # Watchers (the admin's scan page) learn the end now, not at their next poll.
        await self.notifier.emit(LIBRARY_SCAN_PROGRESS, {"id": str(scan_id), "status": status, "error": error})

    async def _create(self, requested_by: int | None) -> Scan:
        async with self.sessions() as session:
            scan = Scan(status=SCAN_QUEUED, requested_by=requested_by, owner=liveness.this_process(),
                        heartbeat_at=utcnow())
            session.add(scan)
            await session.commit()
        return scan

    async def _get(self, scan_id: int) -> Scan:
        async with self.sessions() as session:
            scan = await session.get(Scan, scan_id)
        if scan is None:
            raise NotFound("scan", scan_id)
        return scan

    async def _active(self) -> Scan | None:
        async with self.sessions() as session:
            return await session.scalar(select(Scan).where(Scan.status.in_(ACTIVE)).order_by(Scan.id.desc()).limit(1))

    async def _beat(self, scan_id: int, stop: asyncio.Event) -> None:
        """Say every `HEARTBEAT_S` that this scan's process is alive (read by `reap` elsewhere)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_S)
            if stop.is_set():
                return
            try:
                async with self.sessions() as session:
                    await session.execute(update(Scan).where(Scan.id == scan_id, Scan.status.in_(ACTIVE))
                                          .values(heartbeat_at=utcnow()))
                    await session.commit()
            except Exception:  # a busy database: the next beat tries again, well within STALE_AFTER_S
                log.warning("scan heartbeat not written", scan_id=scan_id, exc_info=True)

    def _progress(self, scan_id: int, also: ProgressFn | None, stopping: threading.Event | None) -> ProgressFn:
        throttle = Throttle(SCAN_PROGRESS_INTERVAL_S)

        async def report(stats: ScanStats) -> None:
            if stopping is not None and stopping.is_set():
                raise _Stopping
            if also is not None:
                await also(stats)
            if throttle.ready():
                await self._update(scan_id, **_counts(stats))
                await self.notifier.emit(LIBRARY_SCAN_PROGRESS, {"id": str(scan_id), "status": SCAN_RUNNING,
                                                                  **_counts(stats)})
        return report

    async def _announce(self, scan_id: int, stats: ScanStats) -> None:
        # Everyone receives this event: offline folders by name, not by server path (the admin's
        # GET /library/scans/{id} has the paths).
        offline = [{"name": name, "reason": why} for name, why in _names(stats.offline)]
        payload = {"id": str(scan_id), "status": SCAN_COMPLETED, **_counts(stats), "offline_folders": offline}
        await self.notifier.emit(LIBRARY_SCAN_PROGRESS, payload)
        if stats.added or stats.updated or stats.removed:
            await self.notifier.emit(LIBRARY_UPDATED, {"added": stats.added, "updated": stats.updated,
                                                       "removed": stats.removed, "scan_id": str(scan_id)})

    async def _update(self, scan_id: int, **values: object) -> None:
        async with self.sessions() as session:
            scan = await session.get(Scan, scan_id)
            if scan is not None:
                for key, value in values.items():
                    setattr(scan, key, value)
                await session.commit()


def _counts(stats: ScanStats) -> dict[str, int]:
    return {k: v for k, v in stats.as_dict().items() if k != "unchanged"}


def _offline_list(stats: ScanStats) -> list[dict[str, str]]:
    return [{"path": path, "reason": why} for path, why in sorted(stats.offline.items())]


def _names(offline: dict[str, str]) -> list[tuple[str, str]]:
    return Offline(tuple((path, why, True) for path, why in sorted(offline.items()))).names()


def _why_dead(owner: str | None, last_sign: datetime | None, now: datetime) -> str | None:
    """Why a queued or running scan is interrupted, or None while its process may still run (or queue)
    it. Only a running scan beats (`last_sign`): a queued one may wait for a busy worker for long."""
    if owner != liveness.this_process() and liveness.is_gone(owner):
        host, pid, _ = (owner or "").rsplit(":", 2)
        return f"interrupted: its process ({pid} on {host}) stopped before it finished"
    if last_sign is not None and (now - last_sign).total_seconds() > STALE_AFTER_S:
        return f"interrupted: no heartbeat from its process for over {STALE_AFTER_S:.0f} s"
    return None
