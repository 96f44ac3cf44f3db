"""One check of a subscription: list its source, record what is new, queue those downloads, prune.

Two workers may wake at the same moment, and a user may press "check" during a periodic check. Each
check first takes the subscription's lease in one UPDATE (`claim`); whoever does not get it does
nothing. Under the lease, an entry is recorded by an INSERT that ignores a (subscription, source_key)
already there, and only the rows that INSERT returns are queued: even two checks that both held a lease
(one presumed dead after `LEASE_S`) cannot download an entry twice.

Downloads are queued like a user's (downloads/), so they are followed, retried and listed the same way;
a later check reads how they ended (`sync`) before pruning by the rule.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.downloads import events
from medianest.downloads.models import COMPLETED, FINISHED, Download, DownloadItem
from medianest.downloads.models import QUEUED as DL_QUEUED
from medianest.downloads.safety import check_url
from medianest.errors import DomainError, InvalidInput, NotFound
from medianest.events import Notifier
from medianest.jobs.queue import Task
from medianest.library.artwork import Artwork
from medianest.library.service import delete_media
from medianest.subscriptions import rules
from medianest.subscriptions.feeds import Entry, FeedError, Listing
from medianest.subscriptions.models import (
    DONE,
    FAILED,
    FEED,
    PLAYLIST,
    PRUNED,
    QUEUED,
    Subscription,
    SubscriptionItem,
)
from medianest.subscriptions.sources import listing
from medianest.text import clean_optional

log = structlog.get_logger(__name__)

# A check that has held its lease this long is taken to have died (a kill -9): the next may start.
LEASE_S = 30 * 60
# The next check comes after the interval, moved by up to this fraction either way, so subscriptions
# made together drift apart instead of asking their sites in the same minute forever.
JITTER = 0.1
# Sites asked at once by one worker (each about its own subscriptions, one at a time). A worker claims
# them a batch at a time, so other workers share a long round. A batch ends within the lease: a feed
# answers within FEED_TIMEOUT_S, and channels, each listed by yt-dlp within LIST_TIMEOUT_S, are not
# grouped by site.
DUE_CONCURRENCY = 8
DUE_BATCH = 100
DESCRIPTION_TAG_CHARS = 4000


@dataclass(frozen=True)
class Checked:
    """What one check did: entries recorded, downloads queued, items pruned; `error` when the source
    could not be read (the subscription stays, its items too, and the next check tries again)."""

    found: int = 0
    queued: int = 0
    pruned: int = 0
    unchanged: bool = False
    error: str | None = None


class Checker:
    """Checks subscriptions with the worker's database, its download queue and a notifier."""

    def __init__(self, settings: Settings, sessions: SessionFactory, http: httpx.AsyncClient, queue: Task,
                 notifier: Notifier, images: Artwork) -> None:
        self.settings, self.sessions, self.http = settings, sessions, http
        self.queue, self.notifier, self.images = queue, notifier, images

    async def check_due(self) -> int:
        """Check every enabled subscription whose time has come, claiming them a batch at a time (other
        workers take the next batches); the number checked here. Sites are asked one check at a time
        each (a host with fifty feeds is not sent eight requests at once), several sites at once; a
        batch's leases are given back in one write, so a round of unchanged feeds costs a few statements,
        not several per feed."""
        checked = 0
        gate = asyncio.Semaphore(DUE_CONCURRENCY)

        async def host(subs: list[Subscription]) -> list[tuple[Subscription, Checked, Listing | None]]:
            async with gate:
                return [(sub, *await self._run(sub, synced=True)) for sub in subs]

        while subs := await self._claim_due(secrets.token_hex(16)):
            await self._sync([s.id for s in subs])
            done = await asyncio.gather(*(host(group) for group in _by_host(subs)))
            await self._release([one for group in done for one in group])
            checked += len(subs)
        return checked

    async def check(self, sub_id: int, force: bool = False) -> Checked | None:
        """Check one subscription if its lease can be taken (and, unless `force`, it is due); None when
        another check holds it, it is not due, or it is gone."""
        where = [Subscription.id == sub_id]
        if not force:
            where += [Subscription.enabled.is_(True), Subscription.next_check_at <= utcnow()]
        claimed = await self._claim(secrets.token_hex(16), *where)
        if not claimed:
            return None
        result, found = await self._run(claimed[0])
        await self._release([(claimed[0], result, found)])
        return result

    async def _run(self, sub: Subscription, synced: bool = False) -> tuple[Checked, Listing | None]:
        """One claimed subscription's check; whatever goes wrong is its `error`, never the round's."""
        try:
            found = await listing(self.http, self.settings, sub)
        except FeedError as exc:
            log.info("subscription source unreadable", subscription_id=sub.id, reason=exc.reason)
            return Checked(error=exc.reason), None
        try:
            return await self._apply(sub, found, synced), found
        except Exception as exc:  # a database hiccup: the lease goes back, the next check tries again
            log.exception("subscription check failed", subscription_id=sub.id)
            return Checked(error=f"internal error: {type(exc).__name__}"), None

    async def _apply(self, sub: Subscription, found: Listing, synced: bool) -> Checked:
        if not synced:
            await self._sync([sub.id])
        recorded, made = (0, []) if found.unchanged else await self._record(sub, found)
        for dl in made:  # committed first: a worker must find the row
            self.queue.enqueue(dl.id)
            await events.announce(self.notifier, dl)
        pruned = await self._prune(sub) if sub.keep_last or sub.max_age_days else 0
        return Checked(found=recorded, queued=len(made), pruned=pruned, unchanged=found.unchanged)

    async def _claim_due(self, token: str) -> list[Subscription]:
        now = utcnow()
        due = (select(Subscription.id).where(Subscription.enabled.is_(True), Subscription.next_check_at <= now,
                                             _lease_free(now))
               .order_by(Subscription.next_check_at).limit(DUE_BATCH))
        return await self._claim(token, Subscription.id.in_(due.scalar_subquery()))

    async def _claim(self, token: str, *where: Any) -> list[Subscription]:
        """Take the lease of the subscriptions `where` names whose lease is free, in one UPDATE: of two
        workers claiming at once, each row goes to one (PostgreSQL checks the lease again on the locked
        row; SQLite runs one write at a time)."""
        now = utcnow()
        async with self.sessions() as session:
            rows = await session.scalars(
                update(Subscription).where(*where, _lease_free(now))
                .values(checking_until=now + timedelta(seconds=LEASE_S), check_token=token)
                .returning(Subscription), execution_options={"synchronize_session": False})
            claimed = list(rows)
            await session.commit()
        return claimed

    async def _release(self, done: Sequence[tuple[Subscription, Checked, Listing | None]]) -> None:
        """Give the leases back with what the checks learnt, in one statement; a lease taken over since
        (this check looked dead) is left to its new holder."""
        table = cast(Table, Subscription.__table__)
        stmt = (update(table).where(table.c.id == bindparam("b_id"), table.c.check_token == bindparam("b_token"))
                .values({c: bindparam(f"b_{c}") for c in _RELEASED}))
        async with self.sessions() as session:
            await session.execute(stmt, [_released(sub, result, found) for sub, result, found in done])
            await session.commit()

    async def _record(self, sub: Subscription, found: Listing) -> tuple[int, list[Download]]:
        """The entries not seen before, inserted with the state the rule gives them, and a download for each
        to fetch, in one transaction: a check killed half-way leaves both or neither (an item left `queued`
        without its download would be taken for one whose download the user removed, and never fetched).
        Only the rows this INSERT really added get downloads (another check's are left to it)."""
        new, states = await self._new(sub, found)
        if not new:
            return 0, []
        # Looked up before the write begins: a slow resolver must not hold the database's write lock.
        urls = {e.key: await self._allowed(sub, e.url) for e, state in zip(new, states, strict=True) if state == QUEUED}
        rows = [_row(sub.id, e, FAILED if state == QUEUED and urls[e.key] is None else state)
                for e, state in zip(new, states, strict=True)]
        async with self.sessions() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            ids = list(await session.scalars(
                dialect.insert(SubscriptionItem).values(rows)
                .on_conflict_do_nothing(index_elements=["subscription_id", "source_key"])
                .returning(SubscriptionItem.id)))
            fetch = list(await session.scalars(select(SubscriptionItem).where(
                SubscriptionItem.id.in_(ids), SubscriptionItem.state == QUEUED))) if ids else []
            made = [self._download(sub, found, item, urls[item.source_key]) for item in fetch]
            session.add_all(made)
            await session.flush()
            for item, dl in zip(fetch, made, strict=True):
                item.download_id = dl.id
            await session.commit()
        return len(ids), made

    async def _new(self, sub: Subscription, found: Listing) -> tuple[list[Entry], list[str]]:
        """The entries this subscription has not recorded, and the state the rule gives each."""
        async with self.sessions() as session:
            known = set(await session.scalars(select(SubscriptionItem.source_key).where(
                SubscriptionItem.subscription_id == sub.id)))
        new = [e for e in found.entries if e.key not in known]
        return new, rules.states(sub, new, first=sub.checked_at is None, now=utcnow()) if new else []

    async def _allowed(self, sub: Subscription, url: str) -> str | None:
        """The entry's address as a download takes it, or None when it may not be fetched (it fails alone)."""
        try:
            return await check_url(url, allow_private=self.settings.downloads_allow_private_networks,
                                   allowed_sites=self.settings.downloads_allowed_sites)
        except InvalidInput as exc:
            log.info("subscription entry refused", subscription_id=sub.id, url=url, reason=exc.message)
            return None

    def _download(self, sub: Subscription, found: Listing, item: SubscriptionItem, url: str | None) -> Download:
        audio = sub.mode == "audio"
        return Download(user_id=sub.user_id, url=url, mode=sub.mode, quality=sub.quality, status=DL_QUEUED,
                        audio_format=(sub.audio_format or "mp3") if audio else None, percent=0.0,
                        downloaded_bytes=0, attempts=0, title=item.title, subscription_id=sub.id,
                        tags=tags(sub, found, item), sponsorblock=sub.sponsorblock)

    async def _sync(self, sub_ids: list[int]) -> None:
        """Queued items take the outcome of their downloads: done (with the media item) or failed; one
        whose download the user removed before it ended has failed too."""
        async with self.sessions() as session:
            rows = (await session.execute(
                select(SubscriptionItem, Download.status, DownloadItem.media_id)
                .outerjoin(Download, Download.id == SubscriptionItem.download_id)
                .outerjoin(DownloadItem, DownloadItem.download_id == Download.id)
                .where(SubscriptionItem.subscription_id.in_(sub_ids), SubscriptionItem.state == QUEUED))).all()
            for item, status, media_id in rows:
                if status is None:
                    item.state = FAILED
                elif status == COMPLETED and media_id is not None:
                    item.state, item.media_id = DONE, media_id
                elif status in FINISHED:
                    item.state = FAILED
            if session.dirty:
                await session.commit()

    async def _prune(self, sub: Subscription) -> int:
        """Remove, file and row together, the downloaded items the rule no longer keeps: beyond the newest
        `keep_last`, or older than `max_age_days`. An item that is also in the library for another reason
        (the user's own download of it, another subscription) leaves the subscription but stays."""
        async with self.sessions() as session:
            done = list(await session.scalars(select(SubscriptionItem).where(
                SubscriptionItem.subscription_id == sub.id, SubscriptionItem.state == DONE)))
            doomed = [item.id for item in rules.beyond_rule(sub, done, utcnow())]
        return sum([await self._remove(sub, item_id) for item_id in doomed])

    async def _remove(self, sub: Subscription, item_id: int) -> bool:
        """One item out of the subscription, its media purged with it in one commit. When the media cannot
        go now (its bucket down), nothing changes, and the next check tries again."""
        async with self.sessions() as session:
            item = await session.get(SubscriptionItem, item_id)
            owner = await session.get(User, sub.user_id)
            if item is None or item.state != DONE:
                return False
            media_id = item.media_id
            item.state, item.media_id = PRUNED, None
            if media_id is not None and owner is not None and not await _kept_elsewhere(session, media_id, sub.id):
                try:
                    await delete_media(session, owner, media_id, purge=True, images=self.images)  # commits
                    return True
                except NotFound:
                    pass  # removed already: the item only leaves the subscription
                except DomainError as exc:
                    await session.rollback()
                    log.info("pruned item kept for now", media_id=media_id, reason=exc.message)
                    return False
            await session.commit()
            return True


_RELEASED = ("checking_until", "check_token", "checked_at", "next_check_at", "last_error", "last_found", "etag",
             "last_modified", "description", "image_url")


def _released(sub: Subscription, result: Checked, found: Listing | None) -> dict[str, Any]:
    """The row after a check: lease free, next check after the interval (jittered), and what a changed
    feed said (its validators, its notes and image); what the check could not learn stays."""
    now = utcnow()
    changed = found is not None and not found.unchanged
    values = {
        "checking_until": None, "check_token": None, "checked_at": now, "last_error": result.error,
        "next_check_at": now + timedelta(seconds=sub.interval_s * random.uniform(1 - JITTER, 1 + JITTER)),
        "last_found": sub.last_found if result.error else result.found,
        "etag": found.etag if changed and found else sub.etag,
        "last_modified": found.last_modified if changed and found else sub.last_modified,
        "description": (found.description if changed and found else None) or sub.description,
        "image_url": (found.image_url if changed and found else None) or sub.image_url,
    }
    return {"b_id": sub.id, "b_token": sub.check_token, **{f"b_{k}": v for k, v in values.items()}}


def _by_host(subs: Sequence[Subscription]) -> list[list[Subscription]]:
    """Feeds grouped by site, to be asked one after another; a channel or playlist (minutes of yt-dlp
    for a big one) alone."""
    groups: dict[str, list[Subscription]] = {}
    for sub in subs:
        key = urlsplit(sub.url).netloc if sub.kind == FEED else f"#{sub.id}"
        groups.setdefault(key, []).append(sub)
    return list(groups.values())


def _lease_free(now: datetime) -> Any:
    return or_(Subscription.checking_until.is_(None), Subscription.checking_until < now)


async def _kept_elsewhere(session: AsyncSession, media_id: int, sub_id: int) -> bool:
    """Whether a download that is not this subscription's (a user's own, another subscription's) holds it."""
    other = await session.scalar(
        select(DownloadItem.id).join(Download, Download.id == DownloadItem.download_id)
        .where(DownloadItem.media_id == media_id,
               or_(Download.subscription_id.is_(None), Download.subscription_id != sub_id)).limit(1))
    return other is not None


def _row(sub_id: int, entry: Entry, state: str) -> dict[str, Any]:
    return {"subscription_id": sub_id, "source_key": entry.key, "url": entry.url, "title": entry.title,
            "description": entry.description, "published_at": entry.published_at, "position": entry.position,
            "state": state, "found_at": utcnow()}


def tags(sub: Subscription, found: Listing, item: SubscriptionItem) -> dict[str, str]:
    """What the file is tagged with beyond what the site says: the subscription as an album, a playlist's
    order as track numbers, and a podcast episode's own metadata (read back by the scanner)."""
    album = sub.name or found.title or ""
    # One album artist for the whole subscription: a playlist mixing channels stays one album.
    out = {"album": album, "album_artist": found.author or album}
    if sub.kind == PLAYLIST and item.position is not None:
        out["track"] = str(item.position + 1)
    if sub.kind == FEED:
        show = found.author or album
        out |= {"artist": show, "album_artist": show, "genre": "Podcast"}
        out |= {k: v for k, v in (("title", item.title), ("date", _date(item.published_at)),
                                  ("description", clean_optional(item.description, DESCRIPTION_TAG_CHARS))) if v}
    return out


def _date(when: datetime | None) -> str | None:
    return when.date().isoformat() if when else None
