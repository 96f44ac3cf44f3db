"""The notifier of processes without a Socket.IO server: events through Redis (the logging one and the
thread bridge are in `medianest.events`)."""

from __future__ import annotations

from typing import Any

import socketio
import structlog

log = structlog.get_logger(__name__)


class RedisNotifier:
    """A Notifier for processes without a Socket.IO server (`medianest worker`): events go through
    Redis to every API instance's server, which delivers them to the rooms' clients."""

    def __init__(self, redis_url: str) -> None:
        self.manager = socketio.AsyncRedisManager(redis_url, write_only=True)

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        await self.manager.emit(event, payload, room=room, namespace="/")

    async def close_room(self, room: str) -> None:
        await self.manager.close_room(room, namespace="/")
