"""Every realtime event name and payload, and the Notifier protocol services talk to.

Services never import socket.io: they call `notifier.emit(...)`; `realtime/` decides how events travel.
"""

from __future__ import annotations

from typing import Any, Protocol

LIBRARY_SCAN_PROGRESS = "library:scan-progress"
LIBRARY_UPDATED = "library:updated"

# A scan of 10,000 files would otherwise send 10,000 events; a UI needs a few per second at most.
SCAN_PROGRESS_INTERVAL_S = 0.25


class Notifier(Protocol):
    async def emit(self, event: str, payload: dict[str, Any], room: str | None = None) -> None:
        """Send `event` to `room` (a user's `user:{id}`, `status`, ...) or to everyone when None."""
        ...
