"""A client of an Uptime Kuma status page's public API (no key: published status pages are public).

  GET /api/status-page/{slug}             the page: groups of monitors (`publicGroupList`); 404 if unknown
  GET /api/status-page/heartbeat/{slug}   recent heartbeats per monitor id, oldest first, and each
                                          monitor's 24-hour uptime as `"<id>_24"`
Heartbeat statuses: 0 down, 1 up, 2 pending (failing, retrying), 3 maintenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from medianest.errors import NotFound, UpstreamError
from medianest.integrations.http import Upstream
from medianest.text import clean_optional

# Kuma's heartbeat statuses on the board's scale.
BEAT_STATUS = {0: "down", 1: "up", 2: "degraded", 3: "unknown"}


@dataclass(frozen=True)
class Beat:
    at: datetime
    status: str
    ping_ms: float | None


@dataclass(frozen=True)
class Monitor:
    id: int
    name: str
    group: str | None
    beats: list[Beat]  # oldest first
    uptime_24h: float | None


class UptimeKuma:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def monitors(self, slug: str) -> list[Monitor]:
        page = await self._get(f"/api/status-page/{quote(slug, safe='')}", slug)
        beats = await self._get(f"/api/status-page/heartbeat/{quote(slug, safe='')}", slug)
        try:
            return [_monitor(m, g.get("name"), beats) for g in page["publicGroupList"] for m in g["monitorList"]]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise UpstreamError(self.upstream.name, "sent a status page of an unexpected shape") from None

    async def _get(self, path: str, slug: str) -> dict[str, Any]:
        response = await self.upstream.request("GET", path)
        if response.status_code == 404:
            raise NotFound("status page", slug)
        self.upstream.check(response)
        body = self.upstream.parse(response)
        if not isinstance(body, dict):
            raise UpstreamError(self.upstream.name, "sent a status page of an unexpected shape")
        return body


def _monitor(raw: dict[str, Any], group: object, beats: dict[str, Any]) -> Monitor:
    monitor_id = int(raw["id"])
    listed = (beats.get("heartbeatList") or {}).get(str(monitor_id)) or []
    uptime = (beats.get("uptimeList") or {}).get(f"{monitor_id}_24")
    # Names are stored for the board: cleaned of control characters.
    return Monitor(id=monitor_id, name=clean_optional(raw.get("name"), 255) or str(monitor_id),
                   group=clean_optional(group, 255) if group else None, beats=[_beat(b) for b in listed],
                   uptime_24h=float(uptime) if isinstance(uptime, int | float) else None)


def _beat(raw: dict[str, Any]) -> Beat:
    """Kuma writes times as "YYYY-MM-DD HH:MM:SS.mmm" in UTC, without a zone."""
    at = datetime.fromisoformat(str(raw["time"]).replace(" ", "T").removesuffix("Z"))
    ping = raw.get("ping")
    return Beat(at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC),
                status=BEAT_STATUS.get(int(raw["status"]), "unknown"),
                ping_ms=float(ping) if isinstance(ping, int | float) else None)
