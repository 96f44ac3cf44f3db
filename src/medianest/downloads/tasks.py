"""The downloads' background work, registered with the queue (jobs/): the download task itself, and the
watcher that queues again what a dead worker left behind."""

from __future__ import annotations

import structlog

from medianest.db.engine import SessionFactory
from medianest.downloads import process, rows
from medianest.downloads.runner import Runner
from medianest.jobs.context import JobContext, Landed
from medianest.jobs.queue import Jobs, Task
from medianest.library.scanner import PerVideo

log = structlog.get_logger(__name__)

TASK = "medianest.download"


def register(jobs: Jobs, landed: Landed | None = None, per_video: PerVideo | None = None) -> Task:
    """The "download N" task, to enqueue (downloads/service.py does, for the API and the CLI)."""

    async def download(context: JobContext, download_id: int) -> None:
        await Runner(context, landed, per_video).run(download_id)

    task = jobs.task(TASK)(download)
    stale_after_s = jobs.settings.downloads_stale_after_s

    async def requeue(sessions: SessionFactory, first: bool) -> None:
        """At start-up, queue again what an earlier process left; then keep picking up the downloads of
        workers that died (no heartbeat for `stale_after_s`)."""
        ids = await rows.requeue_stale(sessions, stale_after_s, include_queued=first)
        for download_id in ids:
            task.enqueue(download_id)
        if ids:
            log.info("downloads queued again", ids=ids)

    jobs.watcher("downloads.requeue", stale_after_s / 2)(requeue)
    jobs.warm_up_with(process.warm_up)
    return task
