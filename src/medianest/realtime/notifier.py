"""Notifiers: where services' events go (logged, through the Socket.IO server, or through Redis)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import socketio
import structlog

from medianest.events import Notifier

log = structlog.get_logger(__name__)


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


class RedisNotifier:
    """A Notifier for processes without a Socket.IO server (`medianest worker`): events go through
    Redis to every API instance's server, which delivers them to the rooms' clients."""

    def __init__(self, redis_url: str) -> None:
        self.manager = socketio.AsyncRedisManager(redis_url, write_only=True)

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        await self.manager.emit(event, payload, room=room, namespace="/")

    async def close_room(self, room: str) -> None:
        await self.manager.close_room(room, namespace="/")
