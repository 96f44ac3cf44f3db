"""A stand-in for Dailymotion's Data API, the part remote search uses: GET /videos with `search`, `fields`,
`page` and `limit`.

Sources (read-only): developers.dailymotion.com, "Basics to perform an API call" (GET /videos?fields=...&limit=,
list answers `{page, limit, explicit, total, has_more, list}`; a related object's field is asked for and answered
by its dotted name, "owner.screenname"), "Video fields" (id, title, duration in seconds, thumbnail_360_url,
views_total, created_time, url), "Understand the different data types" (a Date is a UNIX timestamp; any field may
be null), and "Error management" (`{"error": {"more_info", "code", "message", "type", "error_data"}}` with the
HTTP status; 400 `invalid_parameter` / `missing_required_parameter`, 404 `not_found`, 5xx server errors).

Assumptions: search matches a video whose title holds every word of `search` (casefold; the real search is
fuzzier and ranked); results keep insertion order. `page` and `limit` are 1..100 as the documentation gives them.
Without `fields` a video answers id, title, channel and owner, as the real API does. Videos live at
`https://www.dailymotion.com/video/<id>` unless the test gives each its own `url` (one the downloads can fetch
from 127.0.0.1). Faults: those of every stand-in (`delay_s`, `fail_status`, `garbage`, `drop`, `refuse()`), and
`mangled`: 200 with JSON that is not a list answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from tests.integrations.standin import Reply, Request, StandIn

KNOWN_FIELDS = ("id", "title", "channel", "owner", "owner.screenname", "duration", "thumbnail_360_url",
                "views_total", "created_time", "url", "description")
DEFAULT_FIELDS = ("id", "title", "channel", "owner")
MAX_PAGE = MAX_LIMIT = 100


@dataclass(frozen=True)
class Video:
    id: str
    title: str
    owner: str
    duration: int
    views: int
    created_time: int
    url: str
    thumbnail: str

    def field(self, name: str) -> Any:
        return {"id": self.id, "title": self.title, "channel": "news", "owner": f"x{self.owner.lower()}",
                "owner.screenname": self.owner, "duration": self.duration, "thumbnail_360_url": self.thumbnail,
                "views_total": self.views, "created_time": self.created_time, "url": self.url,
                "description": ""}[name]


class Dailymotion(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.videos: list[Video] = []
        self.mangled = False

    def add_video(self, video_id: str, title: str, owner: str = "Some Channel", *, duration: int = 120,
                  views: int = 1000, created_time: int = 1_700_000_000, url: str | None = None,
                  thumbnail: str | None = None) -> Video:
        video = Video(video_id, title, owner, duration, views, created_time,
                      url or f"https://www.dailymotion.com/video/{video_id}",
                      thumbnail or f"https://s1.dmcdn.net/v/{video_id}/x360")
        with self.lock:
            self.videos.append(video)
        return video

    def searches(self) -> list[Request]:
        return self.calls("GET", "/videos")

    def error_body(self, status: int) -> Any:
        kind = "not_found" if status == 404 else "invalid_parameter" if status == 400 else "server_error"
        return _error(status, HTTPStatus(status).phrase, kind)

    def answer(self, request: Request) -> Reply:
        if request.method != "GET" or request.path != "/videos":
            return Reply(404, _error(404, f"Can't find route `{request.path}'", "not_found"))
        if self.mangled:
            return Reply(200, {"list": "not a list", "page": "one"})
        try:
            fields, page, limit = _fields(request), _bounded(request, "page", 1), _bounded(request, "limit", 10)
        except ValueError as exc:
            return Reply(400, _error(400, str(exc), "invalid_parameter"))
        return Reply(200, self._page(request.arg("search") or "", fields, page, limit))

    def _page(self, search: str, fields: tuple[str, ...], page: int, limit: int) -> dict[str, Any]:
        words = search.casefold().split()
        with self.lock:
            found = [v for v in self.videos if all(w in v.title.casefold() for w in words)]
        start = (page - 1) * limit
        return {"page": page, "limit": limit, "explicit": False, "total": len(found),
                "has_more": start + limit < len(found),
                "list": [{f: v.field(f) for f in fields} for v in found[start:start + limit]]}


def _fields(request: Request) -> tuple[str, ...]:
    raw = request.arg("fields")
    if raw is None:
        return DEFAULT_FIELDS
    fields = tuple(f for f in raw.split(",") if f)
    for name in fields:
        if name not in KNOWN_FIELDS:
            raise ValueError(f"Unknown `{name}' field. Please refer to the documentation")
    return fields


def _bounded(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None:
        return default
    top = MAX_PAGE if name == "page" else MAX_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise ValueError(f"Invalid value for `{name}' parameter: must be a number between 1 and {top}")
    return int(raw)


def _error(status: int, message: str, kind: str) -> dict[str, Any]:
    return {"error": {"more_info": "https://developers.dailymotion.com/api/platform-api/errors/", "code": status,
                      "message": message, "type": kind}}
