"""The requests' background work, registered with the queue (jobs/): `medianest.requests_sync`, every
`requests_sync_interval_s`, follows the open Seerr requests (a periodic task)."""

from __future__ import annotations

from medianest.connections.tasks import integrations
from medianest.jobs.context import JobContext
from medianest.jobs.queue import Jobs
from medianest.requests import service


def register(jobs: Jobs) -> None:
    @jobs.periodic("medianest.requests_sync", jobs.settings.requests_sync_interval_s)
    async def sync_requests(context: JobContext) -> int:
        return await service.sync(context.sessions, integrations(context), context.notifier)
