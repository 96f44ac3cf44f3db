"""Notifiers. Until the Socket.IO server lands, events are logged and kept for inspection."""

from __future__ import annotations

from collections import deque
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class LogNotifier:
    """Logs every event at debug level and remembers the last ones (tests and /health read them)."""

    def __init__(self, keep: int = 1000) -> None:
        self.recent: deque[tuple[str, dict[str, Any], str | None]] = deque(maxlen=keep)

    async def emit(self, event: str, payload: dict[str, Any], room: str | None = None) -> None:
        self.recent.append((event, payload, room))
        log.debug("event", event_name=event, room=room)
