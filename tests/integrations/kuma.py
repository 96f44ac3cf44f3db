"""A stand-in for Uptime Kuma's public status-page API (no auth: status pages are public).

Endpoints and where each behaviour comes from (louislam/uptime-kuma, read-only):

- ``GET /api/status-page/{slug}`` -> ``{config, incident, publicGroupList, maintenanceList}``
  (server/routers/status-page-router.js; ``StatusPage.getStatusPageData`` in server/model/status_page.js).
  ``config`` is ``StatusPage.toPublicJSON()`` (2.0 field set: slug, title, description, icon, autoRefreshInterval,
  theme, published, showTags, customCSS, footerText, showPoweredBy, googleAnalyticsId, showCertificateExpiry);
  each group is ``Group.toPublicJSON()`` = ``{id, name, weight, monitorList}`` (server/model/group.js) and each
  monitor ``Monitor.toPublicJSON()`` = ``{id, name, sendUrl, type}`` (server/model/monitor.js; no tags / cert
  fields because showTags and showCertificateExpiry are off). The slug is lower-cased before the lookup.
  Unknown slug -> ``sendHttpError(res, "Status Page Not Found")`` = 404 ``{"status": "fail", "msg": ...}``
  (server/util-server.js: a msg containing "not found" -> 404, SQLITE_BUSY/LOCKED -> 503, else 403; PR #4537).
- ``GET /api/status-page/heartbeat/{slug}`` -> ``{heartbeatList, uptimeList}``. ``heartbeatList`` maps each
  monitor id of the page's public groups (a string key in JSON) to its most recent 100 beats
  (``ORDER BY time DESC LIMIT 100`` then reversed: oldest first), each ``Heartbeat.toPublicJSON()`` =
  ``{status, time, msg: "", ping}`` -- ``msg`` is always blanked for the public (server/model/heartbeat.js).
  ``time`` is the stored ``R.isoDateTimeMillis(dayjs.utc())`` string, "YYYY-MM-DD HH:MM:SS.mmm" in UTC.
  ``uptimeList`` has ONLY ``"<id>_24"`` = ``UptimeCalculator.get24Hour().uptime``, a fraction 0..1 (0 when no
  data). An unknown slug answers 200 ``{"heartbeatList": {}, "uptimeList": {}}`` (no page check in the route;
  issue #4535 reports the same on 1.23.11).
- Any other GET -> 200 with the SPA's index.html (server.js "Universal Route Handler"); other methods on
  unknown paths -> Express's default 404 HTML "Cannot POST /path".

Status numbers (src/util.js): DOWN 0, UP 1, PENDING 2, MAINTENANCE 3.

Assumptions / simplifications:
- ``_720`` keys are NOT served: the real route only ever writes ``<id>_24`` (the dashboard's socket.io
  ``uptime`` event is where 720 comes from). ``set_uptime(id, 720, v)`` is stored (``uptime(id, 720)``) but unused.
- Without ``set_uptime`` the 24 h uptime is computed from beats of the last 24 h: UP counts up, DOWN and
  PENDING count down, MAINTENANCE is left out (2.0 counts it apart; 1.23 counted it as up).
- Whole numbers go out as JSON integers, as Node's JSON.stringify does (uptime 1 -> ``1``, not ``1.0``).
- Not reproduced: apicache's 5 min / 1 min response caching, ``incident`` (always null), ``maintenanceList``
  (always []), the ``heartbeat_bar_days`` aggregated mode of newer master, manifest.json and badge routes,
  the default page values (theme "auto", autoRefreshInterval 300, showPoweredBy true) are taken from the
  schema defaults as best understood.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from tests.integrations.standin import Reply, Request, StandIn

DOWN, UP, PENDING, MAINTENANCE = 0, 1, 2, 3
MAX_BEATS = 100  # status-page-router.js: ORDER BY time DESC LIMIT 100
INDEX_HTML = (b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"UTF-8\"><title>Uptime Kuma</title></head>\n"
              b"<body><div id=\"app\"></div></body></html>\n")


def kuma_time(when: datetime) -> str:
    """R.isoDateTimeMillis(dayjs.utc()): "YYYY-MM-DD HH:MM:SS.mmm" in UTC, no zone suffix."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def _js_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


@dataclass
class _Beat:
    status: int
    when: datetime
    msg: str
    ping: int | None


@dataclass
class _Group:
    id: int
    name: str
    weight: int
    monitor_ids: list[int] = field(default_factory=list)


@dataclass
class _Page:
    slug: str
    title: str
    groups: list[_Group] = field(default_factory=list)


class UptimeKuma(StandIn):
    """Uptime Kuma's public status-page JSON API; see the module docstring for sources and assumptions."""

    def __init__(self) -> None:
        super().__init__()
        self._pages: dict[str, _Page] = {}
        self._monitors: dict[int, dict[str, Any]] = {}
        self._beats: dict[int, list[_Beat]] = {}
        self._uptime: dict[tuple[int, int], float] = {}
        self._group_ids = itertools.count(1)

    # -- test controls ---------------------------------------------------------------------------------------

    def add_page(self, slug: str, title: str) -> None:
        with self.lock:
            self._pages[slug.lower()] = _Page(slug.lower(), title)

    def add_monitor(self, slug: str, monitor_id: int, name: str, group: str = "Services", type: str = "http") -> None:
        """Put a monitor in a public group (created on first use) of the page `slug`."""
        with self.lock:
            page = self._pages[slug.lower()]
            grp = next((g for g in page.groups if g.name == group), None)
            if grp is None:
                grp = _Group(next(self._group_ids), group, len(page.groups) + 1)
                page.groups.append(grp)
            self._monitors[monitor_id] = {"id": monitor_id, "name": name, "sendUrl": 0, "type": type}
            self._beats.setdefault(monitor_id, [])
            if monitor_id not in grp.monitor_ids:
                grp.monitor_ids.append(monitor_id)

    def beat(self, monitor_id: int, status: int, ping: int | None = None, msg: str = "",
             time: datetime | None = None) -> None:
        """Append a heartbeat (default time: now, UTC). `msg` is stored but, as in Kuma, never shown publicly."""
        if status not in (DOWN, UP, PENDING, MAINTENANCE):
            raise ValueError(f"unknown heartbeat status {status}")
        with self.lock:
            if monitor_id not in self._monitors:
                raise KeyError(f"no monitor {monitor_id}; add_monitor() first")
            self._beats[monitor_id].append(_Beat(status, time or datetime.now(UTC), msg, ping))

    def set_uptime(self, monitor_id: int, hours: int, value: float) -> None:
        """Fix the uptime fraction (0..1) for 24 or 720 hours; only 24 is ever served (see module docstring)."""
        if hours not in (24, 720):
            raise ValueError("hours must be 24 or 720")
        with self.lock:
            self._uptime[(monitor_id, hours)] = value

    def uptime(self, monitor_id: int, hours: int = 24) -> float:
        """The uptime fraction the stand-in holds: the fixed value, else computed from the last `hours` of beats."""
        with self.lock:
            fixed = self._uptime.get((monitor_id, hours))
            if fixed is not None:
                return fixed
            since = datetime.now(UTC) - timedelta(hours=hours)
            recent = [b.status for b in self._beats.get(monitor_id, []) if _aware(b.when) >= since]
        up = sum(1 for s in recent if s == UP)
        down = sum(1 for s in recent if s in (DOWN, PENDING))
        return up / (up + down) if up + down else 0

    # -- HTTP ------------------------------------------------------------------------------------------------

    def error_body(self, status: int) -> Any:
        """util-server.js sendHttpError: {"status": "fail", "msg": ...}."""
        msg = "SQLITE_BUSY: database is locked" if status == 503 else HTTPStatus(status).phrase
        return {"status": "fail", "msg": msg}

    def answer(self, request: Request) -> Reply:
        path = request.path.rstrip("/") if request.path != "/" else request.path
        parts = [unquote(p) for p in path.split("/")[1:]]
        if request.method in ("GET", "HEAD") and parts[:2] == ["api", "status-page"]:
            if len(parts) == 3:
                return self._page(parts[2].lower())
            if len(parts) == 4 and parts[2] == "heartbeat":
                return self._heartbeats(parts[3].lower())
        if request.method in ("GET", "HEAD"):
            return Reply(200, INDEX_HTML, content_type="text/html; charset=utf-8")
        page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n"
                f"</head>\n<body>\n<pre>Cannot {request.method} {request.path}</pre>\n</body>\n</html>\n")
        return Reply(404, page.encode(), content_type="text/html; charset=utf-8")

    def _page(self, slug: str) -> Reply:
        with self.lock:
            page = self._pages.get(slug)
            if page is None:
                return Reply(404, {"status": "fail", "msg": "Status Page Not Found"})
            groups = [{"id": g.id, "name": g.name, "weight": g.weight,
                       "monitorList": [dict(self._monitors[m]) for m in g.monitor_ids]} for g in page.groups]
            return Reply(200, {"config": _config(page), "incident": None,
                               "publicGroupList": groups, "maintenanceList": []})

    def _heartbeats(self, slug: str) -> Reply:
        with self.lock:
            page = self._pages.get(slug)
            ids = [m for g in page.groups for m in g.monitor_ids] if page else []
            beats: dict[str, list[dict[str, Any]]] = {}
            uptimes: dict[str, float | int] = {}
            for mid in dict.fromkeys(ids):
                recent = sorted(self._beats[mid], key=lambda b: _aware(b.when))[-MAX_BEATS:]
                beats[str(mid)] = [{"status": b.status, "time": kuma_time(b.when), "msg": "", "ping": b.ping}
                                   for b in recent]
                uptimes[f"{mid}_24"] = _js_number(self.uptime(mid, 24))
        return Reply(200, {"heartbeatList": beats, "uptimeList": uptimes})


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _config(page: _Page) -> dict[str, Any]:
    return {"slug": page.slug, "title": page.title, "description": None, "icon": "/icon.svg",
            "autoRefreshInterval": 300, "theme": "auto", "published": True, "showTags": False,
            "customCSS": "", "footerText": None, "showPoweredBy": True, "googleAnalyticsId": None,
            "showCertificateExpiry": False}
