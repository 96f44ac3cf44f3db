"""The subscriptions' background work, registered with the queue (jobs/): "check subscription N" (the
API's check button, and each new subscription's first check), and the periodic round that checks every
subscription whose time has come. Every worker may run the round; the leases share the work out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from medianest.jobs.context import JobContext
from medianest.jobs.queue import Jobs, Task
from medianest.library.artwork import Artwork
from medianest.subscriptions.checks import Checker
from medianest.subscriptions.feeds import feed_client

log = structlog.get_logger(__name__)

TASK = "medianest.subscription.check"
DUE = "medianest.subscriptions.due"


def register(jobs: Jobs, download: Task) -> Task:
    """The "check subscription N" task; its downloads go to `download` ("download N")."""

    @asynccontextmanager
    async def checker(context: JobContext) -> AsyncIterator[Checker]:
        async with feed_client(context.settings) as http:
            yield Checker(context.settings, context.sessions, http, download, context.notifier,
                          Artwork(context.settings.artwork_dir, context.bucket))

    async def check(context: JobContext, subscription_id: int, force: bool = False) -> None:
        async with checker(context) as one:
            await one.check(subscription_id, force)

    async def check_due(context: JobContext) -> None:
        async with checker(context) as one:
            checked = await one.check_due()
        if checked:
            log.info("subscriptions checked", count=checked)

    jobs.periodic(DUE, jobs.settings.subscriptions_due_every_s)(check_due)
    return jobs.task(TASK)(check)
