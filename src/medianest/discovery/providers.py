"""The interface every site's search implements, and what one result is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Site = Literal["youtube", "dailymotion"]
SITES: tuple[Site, ...] = ("youtube", "dailymotion")  # the order a merged page interleaves them in


@dataclass(frozen=True)
class Result:
    """One video found on a site; text already cleaned of control characters, `url` what a download takes."""

    site: Site
    id: str
    url: str
    title: str
    channel: str | None
    duration_s: float | None
    thumbnail: str | None
    views: int | None
    published_at: datetime | None


@dataclass(frozen=True)
class Found:
    """One page of one site's results."""

    results: list[Result]
    has_more: bool


class Provider(Protocol):
    """A site's search. `search` raises only the domain's upstream errors (UpstreamUnavailable,
    UpstreamError, UpstreamTimeout: the site is down, answered badly, or too slowly), whose message
    names the site (`name`)."""

    site: Site
    name: str  # as a user reads it: "YouTube"

    async def search(self, query: str, page: int, limit: int) -> Found: ...
