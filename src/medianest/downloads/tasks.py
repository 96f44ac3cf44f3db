"""The downloads' background work, registered with the queue (jobs/): the download task itself, and the
watcher that queues again what a dead worker left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from medianest.db.engine import SessionFactory
from medianest.downloads import process, rows
from medianest.downloads.runner import Runner
from medianest.downloads.sources import Sources
from medianest.jobs.context import JobContext, Landed
from medianest.jobs.queue import Jobs, Task
from medianest.library.scanner import PerVideo

log = structlog.get_logger(__name__)

TASK = "medianest.download"


async def sweep(sessions: SessionFactory, tmp_dir: Path) -> None:
    """Remove the temporary folders of downloads that are over (finished, failed, cancelled or removed):
    a worker killed mid-download leaves its partial files, and when the download was taken over and
    finished on another host, nothing else would ever clear them. A queued or running download's
    folder stays: a run here may resume from it."""
    try:
        folders = {int(p.name): p for p in tmp_dir.iterdir() if p.is_dir() and p.name.isascii() and p.name.isdigit()}
    except OSError:  # no folder yet
        return
    live = await rows.unfinished(sessions, list(folders))
    for download_id, folder in folders.items():
        if download_id not in live:
            shutil.rmtree(folder, ignore_errors=True)
            log.info("leftover download files removed", download_id=download_id)


def register(jobs: Jobs, landed: Landed | None = None, per_video: PerVideo | None = None,
             sources: Sources | None = None) -> Task:
    """The "download N" task, to enqueue (downloads/service.py does, for the API and the CLI); `sources`
    make the downloads of other kinds than yt-dlp's (speech)."""

    async def download(context: JobContext, download_id: int) -> None:
        await Runner(context, landed, per_video, sources=sources).run(download_id)

    task = jobs.task(TASK)(download)
    stale_after_s = jobs.settings.downloads_stale_after_s
    tmp_dir = jobs.settings.downloads_tmp_dir

    async def requeue(sessions: SessionFactory, first: bool) -> None:
        """At start-up, queue again what an earlier process left and clear its leftovers; then keep
        picking up the downloads of workers that died (no heartbeat for `stale_after_s`)."""
        if first:
            await sweep(sessions, tmp_dir)
        ids = await rows.requeue_stale(sessions, stale_after_s, include_queued=first)
        for download_id in ids:
            task.enqueue(download_id)
        if ids:
            log.info("downloads queued again", ids=ids)

    jobs.watcher("downloads.requeue", stale_after_s / 2)(requeue)
    jobs.warm_up_with(process.warm_up)
    return task
