"""The service connections' background work, registered with the queue (jobs/):

- `medianest.status`: every `status_interval_s`, check each enabled connection (a periodic task);
- `medianest.plex_refresh`: a delayed task, scheduled when files land, that refreshes Plex once the
  requests have settled (it schedules itself again while they keep coming).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from medianest.connections import plex_refresh, status
from medianest.connections.clients import Integrations
from medianest.db.engine import SessionFactory
from medianest.jobs.context import JobContext
from medianest.jobs.queue import Jobs, Task
from medianest.security.crypto import secret_box

log = structlog.get_logger(__name__)


def integrations(context: JobContext) -> Integrations:
    """The clients of the outside services, on the task's own HTTP client."""
    return Integrations(context.http, secret_box(context.settings), context.settings)


class PlexRefreshes:
    """Hears where files landed (`landed`: a scan, a download) and has Plex rescan those folders once the
    requests have been quiet for `plex_refresh_debounce_s`."""

    def __init__(self, jobs: Jobs) -> None:
        self.debounce_s = jobs.settings.plex_refresh_debounce_s
        self.task: Task = jobs.task("medianest.plex_refresh")(self.refresh)

    async def landed(self, sessions: SessionFactory, folders: list[Path]) -> None:
        """Files were added or removed in `folders`: Plex hears of it once things settle."""
        try:
            if await plex_refresh.request_refresh(sessions, folders):
                # huey's enqueue is a blocking write (SQLite file or Redis): off the event loop
                await asyncio.to_thread(self.task.schedule, delay=self.debounce_s)
        except Exception:  # a refresh is a courtesy: whatever landed has landed
            log.exception("could not ask for a Plex refresh")

    async def refresh(self, context: JobContext) -> None:
        wait = await plex_refresh.run_refreshes(context.sessions, integrations(context), self.debounce_s)
        if wait is not None:  # more requests came meanwhile: try again once they have been quiet
            self.task.schedule(delay=wait)


def register(jobs: Jobs) -> PlexRefreshes:
    interval_s = jobs.settings.status_interval_s

    @jobs.periodic("medianest.status", interval_s)
    async def check_status(context: JobContext) -> list[int]:
        return await status.check_due(context.sessions, integrations(context), context.notifier, interval_s)

    return PlexRefreshes(jobs)
