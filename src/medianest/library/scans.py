"""Scans as jobs: one at a time, recorded in the `scans` table, progress sent through the Notifier."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from sqlalchemy import select

from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.errors import NotFound
from medianest.events import LIBRARY_SCAN_PROGRESS, LIBRARY_UPDATED, SCAN_PROGRESS_INTERVAL_S, Landed, Notifier
from medianest.library.models import SCAN_COMPLETED, SCAN_FAILED, SCAN_QUEUED, SCAN_RUNNING, Scan
from medianest.library.scanner import ProgressFn, Scanner, ScanStats, Throttle

log = structlog.get_logger(__name__)


class ScanRunner:
    """Starts scans in the background of the serving process; a second request joins the running one."""

    def __init__(self, sessions: SessionFactory, roots: list[Path], artwork_dir: Path, notifier: Notifier,
                 landed: Landed | None = None) -> None:
        self.sessions = sessions
        self.roots = roots
        self.landed = landed  # told when a scan changed the library (a Plex refresh)
        self.scanner = Scanner(sessions, roots, artwork_dir)
        self.notifier = notifier
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[ScanStats | None]] = set()
        self._current: int | None = None

    async def start(self, requested_by: int | None) -> Scan:
        if self._current is not None:
            return await self.get(self._current)
        async with self.sessions() as session:
            scan = Scan(status=SCAN_QUEUED, requested_by=requested_by)
            session.add(scan)
            await session.commit()
        self._current = scan.id
        task = asyncio.create_task(self.run(scan.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return scan

    async def get(self, scan_id: int) -> Scan:
        async with self.sessions() as session:
            scan = await session.get(Scan, scan_id)
        if scan is None:
            raise NotFound("scan", scan_id)
        return scan

    async def latest(self) -> Scan | None:
        async with self.sessions() as session:
            return await session.scalar(select(Scan).order_by(Scan.id.desc()).limit(1))

    async def run(self, scan_id: int) -> ScanStats | None:
        async with self._lock:
            try:
                await self._update(scan_id, status=SCAN_RUNNING, started_at=utcnow())
                stats = await self.scanner.run(self._progress(scan_id))
                await self._update(scan_id, status=SCAN_COMPLETED, finished_at=utcnow(), **_counts(stats))
                await self._announce(scan_id, stats)
                if self.landed and (stats.added or stats.removed):
                    await self.landed(self.sessions, self.roots)
                return stats
            except asyncio.CancelledError:
                await asyncio.shield(self._update(scan_id, status=SCAN_FAILED, finished_at=utcnow(),
                                                  error="interrupted by shutdown"))
                raise
            except Exception as exc:
                log.exception("scan failed", scan_id=scan_id)
                error = str(exc)[:500]
                await self._update(scan_id, status=SCAN_FAILED, finished_at=utcnow(), error=error)
                # Watchers (the admin's scan page) learn the end now, not at their next poll.
                await self.notifier.emit(LIBRARY_SCAN_PROGRESS, {"id": str(scan_id), "status": SCAN_FAILED,
                                                                  "error": error})
                return None
            finally:
                self._current = None

    async def wait(self) -> None:
        """Wait for running scans (tests, the CLI)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel running scans at shutdown; a cancelled scan is marked failed and redone next time."""
        for task in list(self._tasks):
            task.cancel()
        await self.wait()

    def _progress(self, scan_id: int) -> ProgressFn:
        throttle = Throttle(SCAN_PROGRESS_INTERVAL_S)

        async def report(stats: ScanStats) -> None:
            if throttle.ready():
                await self._update(scan_id, **_counts(stats))
                await self.notifier.emit(LIBRARY_SCAN_PROGRESS, {"id": str(scan_id), "status": SCAN_RUNNING,
                                                                  **_counts(stats)})
        return report

    async def _announce(self, scan_id: int, stats: ScanStats) -> None:
        payload = {"id": str(scan_id), "status": SCAN_COMPLETED, **_counts(stats)}
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
