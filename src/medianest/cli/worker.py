"""`medianest worker`: run the queue's jobs (jobs/) - on any machine, in the scaled mode."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
import typer

from medianest.cli.common import console, database
from medianest.config import Settings
from medianest.db.migrate import upgrade
from medianest.events import Notifier

if TYPE_CHECKING:
    from medianest.jobs.queue import Jobs
from medianest.logs import configure as configure_logs
from medianest.logs import use_json

log = structlog.get_logger(__name__)


def worker(concurrency: int | None = typer.Option(
        None, help="downloads at once [env MEDIANEST_DOWNLOADS_CONCURRENCY, default 2]")) -> None:
    """Consume the queue until stopped (Ctrl-C finishes running jobs first): downloads, library scans,
    status checks, request sync and Plex refreshes."""
    settings = Settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"downloads_concurrency": concurrency})
    configure_logs(settings)  # JSON lines off a terminal, at the configured level (no job debug lines)
    settings.ensure_dirs()
    upgrade(settings.db_url)
    from medianest.parts import background  # the queue and every task, loaded when the command runs

    jobs = background(settings, _notifier(settings)).jobs
    stop = threading.Event()
    threading.Thread(target=_watch, args=(settings, jobs, stop), daemon=True).start()
    threading.Thread(target=jobs.warm_up, daemon=True).start()
    where = "Redis" if settings.redis_url else f"{settings.data_dir / 'jobs.db'}"
    log.info("medianest worker ready", concurrency=settings.downloads_concurrency, queue=where)
    if not use_json(settings):
        console.print(f"MediaNest worker: {settings.downloads_concurrency} at once, queue in {where}")
    try:
        jobs.standalone_consumer().run()  # huey's own signal handling: SIGINT waits for running jobs
    finally:
        stop.set()


def _notifier(settings: Settings) -> Callable[[], Notifier] | None:
    """Events reach the API's Socket.IO clients through Redis; without it only the database is updated
    (clients polling GET /api/v1/downloads/{id} still see progress)."""
    if not settings.redis_url:
        return None
    from medianest.realtime.notifier import RedisNotifier  # socket.io's Redis manager, only where it is used

    url = settings.redis_url
    return lambda: RedisNotifier(url)


def _watch(settings: Settings, jobs: Jobs, stop: threading.Event) -> None:
    """The queue's watchers (taking back the downloads of dead workers), on a loop of their own."""
    async def run() -> None:
        async with database(settings) as sessions:
            done = asyncio.Event()
            waiter = asyncio.create_task(asyncio.to_thread(stop.wait))
            waiter.add_done_callback(lambda _: done.set())
            await jobs.watch(sessions, done)

    asyncio.run(run())
