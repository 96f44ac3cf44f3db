"""What a task gets for one run: the settings, a database and an HTTP client of its own event loop, a
notifier, and whether this process is stopping."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from medianest.config import Settings
from medianest.db.engine import SessionFactory, create_engine, create_session_factory
from medianest.events import Notifier
from medianest.integrations.http import http_client
from medianest.storage.objects import Bucket

# Told which folders gained or lost files (a finished download, a scan), with a database of the caller's
# event loop: the service connections ask Plex to rescan them (connections/tasks.py).
Landed = Callable[[SessionFactory, list[Path]], Awaitable[None]]


@dataclass
class JobContext:
    settings: Settings
    sessions: SessionFactory
    notifier: Notifier
    # Set when the process shuts down: a long task stops and leaves its work to the next start.
    stopping: threading.Event = field(default_factory=threading.Event)
    _http: httpx.AsyncClient | None = None
    _bucket: Bucket | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The outgoing HTTP client, made on first use (a download never needs one)."""
        if self._http is None:
            self._http = http_client(self.settings)
        return self._http

    @property
    def bucket(self) -> Bucket | None:
        """The configured bucket (storage/), made on first use; None when media are only in local folders."""
        if self._bucket is None and self.settings.s3_bucket:
            self._bucket = Bucket(self.settings)
        return self._bucket

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


@asynccontextmanager
async def job_context(settings: Settings, notifier: Notifier, stopping: threading.Event,
                      ) -> AsyncIterator[JobContext]:
    engine = create_engine(settings.db_url)
    context = JobContext(settings, create_session_factory(engine), notifier, stopping)
    try:
        yield context
    finally:
        await context.aclose()
        await engine.dispose()
