"""Dailymotion's search through its public Data API (no key needed for public videos):

  GET {base}/videos?search=<words>&fields=<list>&page=<n>&limit=<n>
      -> {"page", "limit", "explicit", "has_more", "list": [{<field>: value, ...}]}
  an error -> {"error": {"code", "message", "type", ...}} with the HTTP status

A field of a related object is asked for and answered with its dotted name ("owner.screenname"); dates are
UNIX timestamps. Everything read is cleaned of control characters before it goes anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from medianest.discovery.providers import Found, Result, Site
from medianest.errors import UpstreamError
from medianest.integrations.http import Upstream
from medianest.text import clean_optional

FIELDS = ("id", "title", "owner.screenname", "duration", "thumbnail_360_url", "views_total", "created_time", "url")
_TEXT_CHARS, _ID_CHARS, _URL_CHARS = 1024, 255, 2048


class Dailymotion:
    site: Site = "dailymotion"
    name = "Dailymotion"

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def search(self, query: str, page: int, limit: int) -> Found:
        params = {"search": query, "fields": ",".join(FIELDS), "page": page, "limit": limit}
        response = await self.upstream.request("GET", "/videos", params=params)
        if response.status_code >= 400:
            raise UpstreamError(self.name, f"refused the search ({response.status_code}: {_error(response)})")
        body = self.upstream.parse(response)
        if not isinstance(body, dict) or not isinstance(body.get("list"), list):
            self.upstream.breaker.success_was_failure()  # a 200 that is not a result list: a broken service
            raise UpstreamError(self.name, "sent search results of an unexpected shape")
        results = [r for r in (_result(item) for item in body["list"] if isinstance(item, dict)) if r]
        return Found(results, has_more=body.get("has_more") is True)


def _result(item: dict[str, Any]) -> Result | None:
    """One video, or None for one without an id or a web address (nothing a download could take)."""
    video_id, url = clean_optional(item.get("id"), _ID_CHARS), clean_optional(item.get("url"), _URL_CHARS)
    if not video_id or not url or not url.startswith(("https://", "http://")):
        return None
    thumbnail = clean_optional(item.get("thumbnail_360_url"), _URL_CHARS)
    return Result(site="dailymotion", id=video_id, url=url,
                  title=clean_optional(item.get("title"), _TEXT_CHARS) or video_id,
                  channel=clean_optional(item.get("owner.screenname"), _TEXT_CHARS),
                  duration_s=_number(item.get("duration")), thumbnail=thumbnail,
                  views=_count(item.get("views_total")), published_at=_date(item.get("created_time")))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _date(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _error(response: httpx.Response) -> str:
    """The message of Dailymotion's error body, or the status's name when the body is not one."""
    try:
        error = response.json().get("error")
        message = clean_optional(error.get("message") or error.get("type"), 200)
    except (ValueError, AttributeError):
        message = None
    return message or response.reason_phrase or "error"
