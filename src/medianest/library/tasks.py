"""The library's background work, registered with the queue (jobs/): the "scan N" task, which runs a
scan that `ScanRunner.start` recorded and queued."""

from __future__ import annotations

from pathlib import Path

from medianest.jobs.context import JobContext, Landed
from medianest.jobs.queue import Jobs, Task
from medianest.library.buckets import bucket_folders
from medianest.library.scanner import PerVideo
from medianest.library.scans import ScanRunner

TASK = "medianest.scan"


def register(jobs: Jobs, landed: Landed | None = None, per_video: PerVideo | None = None) -> Task:
    """The "scan N of these folders" task, on the task's own database and notifier (so it runs in
    `medianest worker` as well as in the server)."""
    artwork_dir = jobs.settings.artwork_dir

    async def scan(context: JobContext, scan_id: int, roots: list[str]) -> None:
        runner = ScanRunner(context.sessions, [Path(root) for root in roots], artwork_dir, context.notifier,
                            landed=landed, per_video=per_video,
                            bucket=bucket_folders(context.settings, context.bucket))
        await runner.run(scan_id, stopping=context.stopping)

    return jobs.task(TASK)(scan)
