"""What a subscription's source lists now: a feed through `feeds.py`, a channel or playlist through yt-dlp.

yt-dlp runs in the same guarded child process as a download's preview (downloads/process.py), flat: one
listing of the entries, no page per video. Its entries carry no dates, so their order is what tells new
from old: a channel lists its newest first, a playlist its oldest first.
"""

from __future__ import annotations

from typing import Any

import httpx

from medianest.config import Settings
from medianest.downloads import process
from medianest.downloads.spec import Failure
from medianest.subscriptions.feeds import Entry, FeedError, FeedRequest, Listing, entry_key, fetch_feed
from medianest.subscriptions.models import CHANNEL, FEED, PLAYLIST, Subscription

# A flat listing of a channel is one request per page of entries; a first check of a big one is long.
LIST_TIMEOUT_S = 300
# What a new subscription's address is must be known while its user waits (like a download's preview).
IDENTIFY_TIMEOUT_S = 60
# After its first check, a channel (newest first) is listed this far: what is new is at its top.
CHANNEL_RECENT = 100


async def listing(http: httpx.AsyncClient, settings: Settings, sub: Subscription) -> Listing:
    """The source's entries now (newest first), or `unchanged` for a feed that answered 304; FeedError
    when the source cannot be read."""
    if sub.kind == FEED:
        return await fetch_feed(http, feed_request(settings, sub.url, sub.etag, sub.last_modified))
    limit = CHANNEL_RECENT if sub.kind == CHANNEL and sub.checked_at is not None else None
    return from_ytdlp(await _entries(settings, sub.url, limit), sub.kind)


async def identify(http: httpx.AsyncClient, settings: Settings, url: str) -> tuple[str, Listing]:
    """What a new subscription's URL is - a feed, a channel or a playlist - and its title; FeedError
    when it is none of them (one video, a page without media)."""
    try:
        return FEED, await fetch_feed(http, feed_request(settings, url))
    except FeedError as exc:
        if exc.transient:
            raise
    info = await _entries(settings, url, 1, IDENTIFY_TIMEOUT_S)
    if not info.get("is_playlist"):
        raise FeedError("this address is one video, not a channel, a playlist or a feed", transient=False)
    kind = PLAYLIST if _looks_like_playlist(url) else CHANNEL
    return kind, from_ytdlp(info, kind)


def feed_request(settings: Settings, url: str, etag: str | None = None,
                 last_modified: str | None = None) -> FeedRequest:
    """A feed's GET under the downloads' rules: private networks, the allowed sites, and a size cap."""
    return FeedRequest(url, etag, last_modified, settings.downloads_allow_private_networks,
                       settings.subscriptions_feed_max_mb * 1024 * 1024, tuple(settings.downloads_allowed_sites))


async def _entries(settings: Settings, url: str, limit: int | None,
                   timeout_s: float = LIST_TIMEOUT_S) -> dict[str, Any]:
    try:
        return await process.run("entries", (url, limit, settings.ffmpeg_path),
                                 settings.downloads_allow_private_networks, timeout_s)
    except Failure as failure:
        raise FeedError(failure.reason, failure.transient) from None
    except TimeoutError:
        raise FeedError("the site took too long to list its entries", transient=True) from None


def from_ytdlp(info: dict[str, Any], kind: str) -> Listing:
    """yt-dlp's flat listing as a `Listing`, newest first; an entry's key is its URL (a generic page's
    entry ids are positions, which shift when something is added)."""
    raw = [e for e in info.get("entries") or [] if e.get("url")]
    entries = [Entry(key=entry_key(e["url"]), url=e["url"], title=e.get("title"), position=i)
               for i, e in enumerate(raw)]
    if kind == PLAYLIST:
        entries.reverse()
    return Listing(title=info.get("title"), author=info.get("channel"), entries=entries)


def _looks_like_playlist(url: str) -> bool:
    low = url.lower()
    return "list=" in low or "/playlist" in low

