"""A client of Seerr / Overseerr / Jellyseerr (their shared API v1, documented in `overseerr-api.yml`).

  GET    /api/v1/status                 version (no key needed): the status board's probe
  GET    /api/v1/search?query=&page=    movies, shows and people, with `mediaInfo` for titles it knows
  POST   /api/v1/request                {mediaType, mediaId (TMDB id), seasons?} -> the request
  GET    /api/v1/request/{id}           the request with its `status` and its media's `status`
  DELETE /api/v1/request/{id}           withdraw it
Every call but the status carries `X-Api-Key`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from medianest.errors import Conflict, NotFound, UpstreamError
from medianest.integrations.http import Upstream
from medianest.text import clean_optional, clean_text

# MediaRequestStatus and MediaStatus as Seerr numbers them (server/constants/media.ts).
REQUEST_PENDING, REQUEST_APPROVED, REQUEST_DECLINED, REQUEST_FAILED, REQUEST_COMPLETED = 1, 2, 3, 4, 5
MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIAL, MEDIA_AVAILABLE = 1, 2, 3, 4, 5
POSTER_BASE = "https://image.tmdb.org/t/p/w300"
POSTER_PATH = re.compile(r"^/[A-Za-z0-9._-]{1,254}$")  # TMDB's "/abc123.jpg"; anything else is not one


@dataclass(frozen=True)
class Title:
    """A movie or show from a search; `media_status` is Seerr's number (None: Seerr has no record)."""

    media_type: str
    tmdb_id: int
    title: str
    year: int | None
    overview: str
    poster_path: str | None
    media_status: int | None


@dataclass(frozen=True)
class SearchPage:
    page: int
    total_pages: int
    total_results: int
    results: list[Title]


@dataclass(frozen=True)
class SeerrRequest:
    id: int
    request_status: int
    media_status: int | None


class Seerr:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def status(self) -> dict[str, Any]:
        body = await self.upstream.json("GET", "/api/v1/status")
        if not isinstance(body, dict) or "version" not in body:
            raise UpstreamError(self.upstream.name, "answered /api/v1/status without a version")
        return body

    async def search(self, query: str, page: int) -> SearchPage:
        # Seerr rejects reserved characters left unencoded (and reads "+" as a plus), so the query is
        # percent-encoded in full by us rather than form-encoded by httpx.
        path = f"/api/v1/search?query={quote(query, safe='')}&page={page}"
        body = await self.upstream.json("GET", path)
        try:
            results = [t for t in (_title(r) for r in body["results"]) if t is not None]
            return SearchPage(int(body.get("page", page)), int(body.get("totalPages", 1)),
                              int(body.get("totalResults", len(results))), results)
        except (KeyError, TypeError, ValueError):
            raise UpstreamError(self.upstream.name, "sent search results of an unexpected shape") from None

    async def request(self, media_type: str, tmdb_id: int, seasons: list[int] | None,
                      as_user: int | None = None) -> SeerrRequest:
        """`as_user`: the Seerr user the request is made for (`X-API-User`); with the API key alone it is
        Seerr's admin, whose requests are approved at once."""
        payload: dict[str, Any] = {"mediaType": media_type, "mediaId": tmdb_id}
        if media_type == "tv":
            payload["seasons"] = seasons or "all"
        headers = {"X-API-User": str(as_user)} if as_user else {}
        response = await self.upstream.request("POST", "/api/v1/request", json=payload, headers=headers)
        if response.status_code == 409:
            raise Conflict(f"{self.upstream.name} already has a request for this title")
        if response.status_code == 202:  # Seerr's "No seasons available to request"
            raise Conflict(f"{self.upstream.name} has every season of this show requested or available")
        if response.status_code == 404:
            raise NotFound("title", tmdb_id)
        self.upstream.check(response)
        return _request(self.upstream.parse(response), self.upstream.name)

    async def get_request(self, request_id: int) -> SeerrRequest | None:
        """None when Seerr no longer has it (deleted there)."""
        response = await self.upstream.request("GET", f"/api/v1/request/{request_id}")
        if response.status_code == 404:
            return None
        self.upstream.check(response)
        return _request(self.upstream.parse(response), self.upstream.name)

    async def delete_request(self, request_id: int) -> None:
        response = await self.upstream.request("DELETE", f"/api/v1/request/{request_id}")
        if response.status_code != 404:  # already gone is what we wanted
            self.upstream.check(response)


def _title(raw: dict[str, Any]) -> Title | None:
    kind = raw.get("mediaType")
    if kind not in ("movie", "tv"):
        return None  # people
    name = raw.get("title") if kind == "movie" else raw.get("name")
    date = raw.get("releaseDate") if kind == "movie" else raw.get("firstAirDate")
    info = raw.get("mediaInfo") or {}
    poster = raw.get("posterPath")
    # Text from Seerr (from TMDB, edited by anyone) is cleaned of control characters here, before a
    # title can reach the database through a request or a one-line display.
    return Title(media_type=kind, tmdb_id=int(raw["id"]),
                 title=clean_optional(name or raw.get("originalTitle"), 1024) or "?",
                 year=_year(date), overview=clean_text(str(raw.get("overview") or "")),
                 poster_path=poster if isinstance(poster, str) and POSTER_PATH.match(poster) else None,
                 media_status=int(info["status"]) if isinstance(info, dict) and info.get("status") else None)


def _request(raw: Any, name: str) -> SeerrRequest:
    try:
        media = raw.get("media") or {}
        return SeerrRequest(id=int(raw["id"]), request_status=int(raw["status"]),
                            media_status=int(media["status"]) if media.get("status") else None)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UpstreamError(name, "sent a request of an unexpected shape") from None


def _year(date: object) -> int | None:
    if isinstance(date, str) and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None
