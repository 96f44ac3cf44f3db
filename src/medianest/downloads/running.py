"""The download machinery of one serving process: the queue, and in the embedded mode its consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog

from medianest.config import Settings
from medianest.db.engine import SessionFactory
from medianest.downloads.jobs import DownloadQueue, requeue_stale
from medianest.downloads.process import warm_up
from medianest.downloads.service import Downloads
from medianest.realtime.notifier import LoopBridge
from medianest.services.jobs import IntegrationJobs

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def downloads_running(app: Any, settings: Settings, sessions: SessionFactory) -> AsyncIterator[None]:
    """Sets `app.state.downloads`; with `settings.consumes_queue`, runs jobs here until the app stops."""
    loop, notifier = asyncio.get_running_loop(), app.state.notifier
    queue = DownloadQueue(settings, notifier=lambda: LoopBridge(notifier, loop))
    app.state.jobs = IntegrationJobs(queue)
    app.state.downloads = Downloads(settings, queue, app.state.limits, notifier)
    if not settings.consumes_queue:
        yield
        return
    consumer = queue.consumer()
    consumer.start()
    warming = asyncio.create_task(asyncio.to_thread(warm_up))
    stop = asyncio.Event()
    watch = asyncio.create_task(watch_stale(sessions, queue, settings.downloads_stale_after_s, stop))
    try:
        yield
    finally:
        # Stopped, not cancelled: a cancel in the middle of a query would leave its connection half
        # closed, and disposing of the engine would then wait for it forever.
        stop.set()
        await watch
        await warming
        await asyncio.to_thread(queue.shutdown, consumer)


async def watch_stale(sessions: SessionFactory, queue: DownloadQueue, stale_after_s: float,
                      stop: asyncio.Event) -> None:
    """At start-up, queue again what an earlier process left; then, until `stop`, keep picking up the
    downloads of workers that died (no heartbeat for `stale_after_s`)."""
    include_queued = True
    while not stop.is_set():
        try:
            requeued = await requeue_stale(sessions, queue, stale_after_s, include_queued)
            if requeued:
                log.info("downloads queued again", ids=requeued)
            include_queued = False
        except Exception:
            log.exception("requeue of stale downloads failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), stale_after_s / 2)
