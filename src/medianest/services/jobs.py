"""The integrations' background jobs, on the same huey queue as downloads (a SQLite file embedded, Redis
scaled), run by whatever consumes it (`serve` embedded, `medianest worker` scaled):

- `medianest.status`: every `status_interval_s`, check each enabled connection (huey periodic task);
- `medianest.requests_sync`: every `requests_sync_interval_s`, follow open Seerr requests;
- `medianest.plex_refresh`: a delayed task, scheduled when files land, that refreshes Plex once the
  requests have settled (it schedules itself again while they keep coming).

Each run is a huey worker thread with its own event loop, database engine and HTTP client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import structlog

from medianest.db.engine import SessionFactory, create_engine, create_session_factory
from medianest.downloads.jobs import DownloadQueue
from medianest.events import Notifier
from medianest.integrations.http import http_client
from medianest.requests import service as requests_service
from medianest.security.crypto import secret_box
from medianest.services import plex, status
from medianest.services.clients import Integrations

log = structlog.get_logger(__name__)
T = TypeVar("T")


def every(seconds: int) -> Callable[[datetime], bool]:
    """huey's periodic tasks are offered each minute; this takes every `seconds // 60`-th one."""
    minutes = max(1, seconds // 60)
    return lambda dt: (dt.hour * 60 + dt.minute) % minutes == 0


class IntegrationJobs:
    def __init__(self, queue: DownloadQueue) -> None:
        self.queue, self.settings = queue, queue.settings
        huey = queue.huey
        huey.periodic_task(every(self.settings.status_interval_s), name="medianest.status")(self.check_status)
        huey.periodic_task(every(self.settings.requests_sync_interval_s),
                           name="medianest.requests_sync")(self.sync_requests)
        self._refresh = huey.task(name="medianest.plex_refresh")(self.refresh_plex)
        queue.landed = self.landed

    async def landed(self, sessions: SessionFactory, folders: list[Path]) -> None:
        """Files were added or removed in `folders`: Plex hears of it once things settle."""
        try:
            if await plex.request_refresh(sessions, folders):
                # huey's enqueue is a blocking write (SQLite file or Redis): off the event loop
                await asyncio.to_thread(self._refresh.schedule, delay=self.settings.plex_refresh_debounce_s)
        except Exception:  # a refresh is a courtesy: whatever landed has landed
            log.exception("could not ask for a Plex refresh")

    def check_status(self) -> list[int]:
        return self._run(lambda s, i, n: status.check_due(s, i, n, self.settings.status_interval_s))

    def sync_requests(self) -> int:
        return self._run(requests_service.sync)

    def refresh_plex(self) -> None:
        wait = self._run(lambda s, i, n: plex.run_refreshes(s, i, self.settings.plex_refresh_debounce_s))
        if wait is not None:  # more requests came meanwhile: try again once they have been quiet
            self._refresh.schedule(delay=wait)

    def _run(self, job: Callable[[SessionFactory, Integrations, Notifier], Awaitable[T]]) -> T:
        async def run() -> T:
            async with self.context() as (sessions, integrations, notifier):
                return await job(sessions, integrations, notifier)
        return asyncio.run(run())

    @asynccontextmanager
    async def context(self) -> AsyncIterator[tuple[SessionFactory, Integrations, Notifier]]:
        engine = create_engine(self.settings.db_url)
        http = http_client(self.settings)
        try:
            yield (create_session_factory(engine), Integrations(http, secret_box(self.settings), self.settings),
                   self.queue.notifier())
        finally:
            await http.aclose()
            await engine.dispose()
