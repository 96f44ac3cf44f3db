"""Every realtime event name, the Notifier protocol services talk to, and the two notifiers that need no
socket: one that logs, and one that hands events from a job's thread to the serving loop.

Services never import socket.io: they call `notifier.emit(...)`; `realtime/` decides how events travel
(through the Socket.IO server, or through Redis from a worker).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

LIBRARY_SCAN_PROGRESS = "library:scan-progress"
LIBRARY_UPDATED = "library:updated"
DOWNLOAD_QUEUED = "download:queued"
DOWNLOAD_STARTED = "download:started"
DOWNLOAD_PROGRESS = "download:progress"
DOWNLOAD_COMPLETED = "download:completed"
DOWNLOAD_FAILED = "download:failed"
DOWNLOAD_CANCELED = "download:canceled"
REQUEST_UPDATED = "request:updated"
STATUS_UPDATE = "status:update"

# A scan of 10,000 files would otherwise send 10,000 events; a UI needs a few per second at most.
SCAN_PROGRESS_INTERVAL_S = 0.25
# API.md: at most 4 progress events per second per download (yt-dlp reports many times a second).
DOWNLOAD_PROGRESS_INTERVAL_S = 0.25


class Notifier(Protocol):
    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        """Send `event` to `room` (a user's `user:{id}`, `status`, ...; with a list, each client in any of
        them gets it once) or to everyone when None."""
        ...

    async def close_room(self, room: str) -> None:
        """Empty `room` in every process (its clients stay connected): call it when the thing the room
        is named after is deleted, so nobody keeps listening there."""
        ...


class LogNotifier:
    """Logs every event at debug level and remembers the last ones (tests and /health read them), and the
    rooms closed."""

    def __init__(self, keep: int = 1000) -> None:
        self.recent: deque[tuple[str, dict[str, Any], str | list[str] | None]] = deque(maxlen=keep)
        self.closed_rooms: deque[str] = deque(maxlen=keep)

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        self.recent.append((event, payload, room))
        log.debug("event", event_name=event, room=room)

    async def close_room(self, room: str) -> None:
        self.closed_rooms.append(room)
        log.debug("room closed", room=room)


class LoopBridge:
    """A Notifier usable from another thread's event loop (a download job in a huey worker thread):
    each event is handed to `inner` on `loop`, the serving loop the Socket.IO server lives on."""

    def __init__(self, inner: Notifier, loop: asyncio.AbstractEventLoop) -> None:
        self.inner, self.loop = inner, loop

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        if self.loop.is_closed():
            return  # the server is shutting down; nobody is listening any more
        future = asyncio.run_coroutine_threadsafe(self.inner.emit(event, payload, room), self.loop)
        await asyncio.wrap_future(future)

    async def close_room(self, room: str) -> None:
        if self.loop.is_closed():
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.inner.close_room(room), self.loop))
