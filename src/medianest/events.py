"""Every realtime event name and payload, and the Notifier protocol services talk to.

Services never import socket.io: they call `notifier.emit(...)`; `realtime/` decides how events travel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from medianest.db.engine import SessionFactory

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


# Told which folders gained or lost files (a finished download, a scan): services/jobs.py asks Plex to
# rescan them.
Landed = Callable[[SessionFactory, list[Path]], Awaitable[None]]
