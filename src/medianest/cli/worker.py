"""`medianest worker`: run download jobs from the queue - on any machine, in the scaled mode."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import structlog
import typer

from medianest.cli.common import console, database
from medianest.config import Settings
from medianest.db.migrate import upgrade
from medianest.downloads.jobs import POLLING, DownloadQueue
from medianest.downloads.process import warm_up
from medianest.downloads.running import watch_stale
from medianest.events import Notifier
from medianest.logs import configure as configure_logs
from medianest.logs import use_json
from medianest.realtime.notifier import RedisNotifier
from medianest.services.jobs import IntegrationJobs

log = structlog.get_logger(__name__)


def worker(concurrency: int | None = typer.Option(
        None, help="downloads at once [env MEDIANEST_DOWNLOADS_CONCURRENCY, default 2]")) -> None:
    """Consume the download queue until stopped (Ctrl-C finishes running jobs first)."""
    settings = Settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"downloads_concurrency": concurrency})
    configure_logs(settings)  # JSON lines off a terminal, at the configured level (no job debug lines)
    settings.ensure_dirs()
    upgrade(settings.db_url)
    queue = DownloadQueue(settings, notifier=_notifier(settings))
    IntegrationJobs(queue)  # status checks, request sync and Plex refreshes run here too
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(settings, queue, stop), daemon=True)
    watcher.start()
    threading.Thread(target=warm_up, daemon=True).start()
    where = "Redis" if settings.redis_url else f"{settings.data_dir / 'jobs.db'}"
    log.info("medianest worker ready", concurrency=settings.downloads_concurrency, queue=where)
    if not use_json(settings):
        console.print(f"MediaNest worker: {settings.downloads_concurrency} at once, queue in {where}")
    consumer = queue.huey.create_consumer(workers=settings.downloads_concurrency, worker_type="thread",
                                          periodic=True, **POLLING)
    try:
        consumer.run()  # huey's own signal handling: SIGINT waits for running jobs, SIGTERM stops now
    finally:
        stop.set()


def _notifier(settings: Settings) -> Callable[[], Notifier] | None:
    """Events reach the API's Socket.IO clients through Redis; without it only the database is updated
    (clients polling GET /api/v1/downloads/{id} still see progress)."""
    if not settings.redis_url:
        return None
    url = settings.redis_url
    return lambda: RedisNotifier(url)


def _watch(settings: Settings, queue: DownloadQueue, stop: threading.Event) -> None:
    async def run() -> None:
        async with database(settings) as sessions:
            done = asyncio.Event()
            waiter = asyncio.create_task(asyncio.to_thread(stop.wait))
            waiter.add_done_callback(lambda _: done.set())
            await watch_stale(sessions, queue, settings.downloads_stale_after_s, done)

    asyncio.run(run())
