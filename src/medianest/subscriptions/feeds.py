"""Podcast and channel feeds (RSS and Atom): one conditional GET, then feedparser.

The GET is ours, not feedparser's: every hop of a redirect is checked like a download's URL (no private
address, no cloud metadata service), the body is capped, and the validators the server gave last time
(ETag, Last-Modified) go back with it, so a feed that has not changed costs a 304 and no parsing.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import httpx

from medianest.config import Settings
from medianest.downloads.safety import AddressRefused, GuardedTransport, check_url
from medianest.errors import InvalidInput
from medianest.integrations.http import USER_AGENT
from medianest.text import clean_optional, clean_text

MAX_REDIRECTS = 5
FEED_TIMEOUT_S = 20.0
KEY_CHARS, TITLE_CHARS, TEXT_CHARS = 255, 1024, 20_000
_TAGS = re.compile(r"<[^>]+>")
_REDIRECTS = (301, 302, 303, 307, 308)


class FeedError(Exception):
    """The feed could not be read; `transient` when asking again later may work (down, 5xx, timeout)."""

    def __init__(self, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


@dataclass(frozen=True)
class Entry:
    """One episode or video a source lists; `key` is stable across checks (a guid, an id, or the URL)."""

    key: str
    url: str
    title: str | None = None
    published_at: datetime | None = None
    description: str | None = None
    position: int | None = None


@dataclass(frozen=True)
class Listing:
    """What a source lists now, newest first; `unchanged` when a feed answered 304 (no entries then)."""

    title: str | None = None
    author: str | None = None
    description: str | None = None
    image_url: str | None = None
    entries: list[Entry] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    unchanged: bool = False


@dataclass(frozen=True)
class FeedRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    allow_private: bool = False
    max_bytes: int = 20 * 1024 * 1024
    allowed_sites: tuple[str, ...] = ()  # MEDIANEST_DOWNLOADS_ALLOWED_SITES, at every hop like a download's


def feed_client(settings: Settings) -> httpx.AsyncClient:
    """A client for feeds: no environment proxy (the feed's host was checked, not a proxy's), no redirect
    followed without checking it, every connection's address checked as it is made (a name may resolve
    elsewhere than when `check_url` looked: DNS rebinding), and a site's slowness bounded."""
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    transport = GuardedTransport(settings.downloads_allow_private_networks,
                                 httpx.AsyncHTTPTransport(limits=limits, trust_env=False))
    return httpx.AsyncClient(timeout=httpx.Timeout(FEED_TIMEOUT_S, connect=5.0), follow_redirects=False,
                             trust_env=False, headers={"User-Agent": USER_AGENT}, transport=transport)


async def fetch_feed(http: httpx.AsyncClient, req: FeedRequest) -> Listing:
    """The feed at `req.url`, or `Listing(unchanged=True)` when the server says it has not changed."""
    url = req.url
    for _ in range(MAX_REDIRECTS + 1):
        url = await _checked(url, req)
        async with _get(http, url, req) as response:
            # The whole body is read, even a 304's or a redirect's empty one: a response left unread
            # closes its connection, and a round of checks would open a new one for every feed.
            body = await _capped(response, req.max_bytes)
            if response.status_code in _REDIRECTS and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code == 304:
                return Listing(unchanged=True, etag=req.etag, last_modified=req.last_modified)
            _check_status(response.status_code)
            return parse(body, response.headers.get("etag"), response.headers.get("last-modified"))
    raise FeedError(f"more than {MAX_REDIRECTS} redirects", transient=False)


async def _checked(url: str, req: FeedRequest) -> str:
    try:
        return await check_url(url, allow_private=req.allow_private, allowed_sites=req.allowed_sites)
    except InvalidInput as exc:
        raise FeedError(f"the feed's address cannot be fetched ({exc.message})", transient=False) from None


@asynccontextmanager
async def _get(http: httpx.AsyncClient, url: str, req: FeedRequest) -> AsyncIterator[httpx.Response]:
    """The streamed answer to a conditional GET; what goes wrong on the wire is a transient FeedError."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if req.etag:
        headers["If-None-Match"] = req.etag
    if req.last_modified:
        headers["If-Modified-Since"] = req.last_modified
    try:
        async with http.stream("GET", url, headers=headers, follow_redirects=False) as response:
            yield response
    except AddressRefused as exc:
        raise FeedError(f"the feed's address cannot be fetched ({exc})", transient=False) from None
    except httpx.TimeoutException:
        raise FeedError("the feed's server did not answer in time", transient=True) from None
    except httpx.HTTPError as exc:
        raise FeedError(f"the feed's server cannot be reached ({type(exc).__name__})", transient=True) from None


def _check_status(status: int) -> None:
    if status >= 500 or status == 429:
        raise FeedError(f"the feed's server answered {status}", transient=True)
    if status >= 400:
        raise FeedError(f"the feed's server answered {status}", transient=False)


async def _capped(response: httpx.Response, max_bytes: int) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedError(f"the feed is larger than {max_bytes // (1024 * 1024)} MB", transient=False)
        chunks.append(chunk)
    return b"".join(chunks)


def parse(body: bytes, etag: str | None = None, last_modified: str | None = None) -> Listing:
    """RSS or Atom `body` as a `Listing`, newest first; FeedError when it is not a feed at all."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    info = parsed.get("feed") or {}
    if not parsed.entries and not info.get("title"):
        raise FeedError("the address does not hold an RSS or Atom feed", transient=False)
    entries = [e for e in (_entry(raw) for raw in parsed.entries) if e is not None]
    entries.sort(key=lambda e: e.published_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    image = (info.get("image") or {}).get("href") or (info.get("itunes_image") or {}).get("href")
    return Listing(title=clean_optional(info.get("title"), TITLE_CHARS),
                   author=clean_optional(info.get("author") or info.get("itunes_author"), TITLE_CHARS),
                   description=_text(info.get("subtitle") or info.get("summary")),
                   image_url=clean_optional(image), entries=entries,
                   etag=clean_optional(etag, 512), last_modified=clean_optional(last_modified, 128))


def _entry(raw: Any) -> Entry | None:
    """An episode: its media enclosure (or, for a channel's feed, its link); None when it has neither."""
    url = _enclosure(raw) or raw.get("link")
    url = clean_optional(url)
    if not url:
        return None
    return Entry(key=entry_key(raw.get("id") or url), url=url, title=clean_optional(raw.get("title"), TITLE_CHARS),
                 published_at=_when(raw.get("published_parsed") or raw.get("updated_parsed")),
                 description=_text(raw.get("summary") or raw.get("description")))


def _enclosure(raw: Any) -> str | None:
    for link in raw.get("enclosures") or []:
        kind = str(link.get("type") or "")
        if link.get("href") and (kind.startswith(("audio/", "video/")) or not kind):
            return str(link["href"])
    return None


def entry_key(value: object) -> str:
    """A guid as it is, when it fits the column; a longer one by its hash (still stable across checks)."""
    text = clean_optional(value) or ""
    if len(text) <= KEY_CHARS:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: object) -> str | None:
    """Show notes as plain text: feeds carry HTML, which a tag in the file and the UI show as text."""
    if not value:
        return None
    text = clean_text(html.unescape(_TAGS.sub(" ", str(value))))
    text = re.sub(r"[ \t]+", " ", text)
    return text[:TEXT_CHARS] or None
