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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import or_, select, update
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
from medianest.errors import DomainError, InvalidInput
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
LEASE_S = 15 * 60
# The next check comes after the interval, moved by up to this fraction either way, so subscriptions
# made together drift apart instead of asking their sites in the same minute forever.
JITTER = 0.1
# Due subscriptions checked at once by one worker: each is mostly waiting on its site.
DUE_CONCURRENCY = 8
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
        """Check every enabled subscription whose time has come; the number checked here."""
        async with self.sessions() as session:
            now = utcnow()
            ids = list(await session.scalars(select(Subscription.id).where(
                Subscription.enabled.is_(True), Subscription.next_check_at <= now,
                or_(Subscription.checking_until.is_(None), Subscription.checking_until < now))
                .order_by(Subscription.next_check_at).limit(1000)))
        gate = asyncio.Semaphore(DUE_CONCURRENCY)

        async def one(sub_id: int) -> bool:
            async with gate:
                return await self.check(sub_id) is not None

        return sum(await asyncio.gather(*(one(i) for i in ids)))

    async def check(self, sub_id: int, force: bool = False) -> Checked | None:
        """Check one subscription if its lease can be taken (and, unless `force`, it is due); None when
        another check holds it, it is not due, or it is gone."""
        token = secrets.token_hex(16)
        sub = await self._claim(sub_id, token, force)
        if sub is None:
            return None
        try:
            found = await listing(self.http, self.settings, sub)
        except FeedError as exc:
            log.info("subscription source unreadable", subscription_id=sub_id, reason=exc.reason)
            await self._release(sub, token, Checked(error=exc.reason), None)
            return Checked(error=exc.reason)
        result = await self._apply(sub, found)
        await self._release(sub, token, result, found)
        return result

    async def _apply(self, sub: Subscription, found: Listing) -> Checked:
        await self._sync(sub.id)
        recorded: list[SubscriptionItem] = []
        if not found.unchanged:
            recorded = await self._record(sub, found)
        queued = await self._queue(sub, found, [i for i in recorded if i.state == QUEUED])
        pruned = await self._prune(sub)
        return Checked(found=len(recorded), queued=queued, pruned=pruned, unchanged=found.unchanged)

    async def _claim(self, sub_id: int, token: str, force: bool) -> Subscription | None:
        now = utcnow()
        where = [Subscription.id == sub_id,
                 or_(Subscription.checking_until.is_(None), Subscription.checking_until < now)]
        if not force:
            where += [Subscription.enabled.is_(True), Subscription.next_check_at <= now]
        async with self.sessions() as session:
            taken = await session.execute(update(Subscription).where(*where).values(
                checking_until=now + timedelta(seconds=LEASE_S), check_token=token))
            await session.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return await session.get(Subscription, sub_id)

    async def _release(self, sub: Subscription, token: str, result: Checked, found: Listing | None) -> None:
        now = utcnow()
        values: dict[str, Any] = {
            "checking_until": None, "check_token": None, "checked_at": now, "last_error": result.error,
            "next_check_at": now + timedelta(seconds=sub.interval_s * random.uniform(1 - JITTER, 1 + JITTER)),
        }
        if result.error is None:
            values["last_found"] = result.found
        if found is not None and not found.unchanged:
            values |= {"etag": found.etag, "last_modified": found.last_modified}
            values |= {k: v for k, v in (("description", found.description), ("image_url", found.image_url)) if v}
        async with self.sessions() as session:
            await session.execute(update(Subscription).where(
                Subscription.id == sub.id, Subscription.check_token == token).values(**values))
            await session.commit()

    async def _record(self, sub: Subscription, found: Listing) -> list[SubscriptionItem]:
        """The entries not seen before, inserted with the state the rule gives them; only the rows this
        INSERT really added come back (another check's are left to it)."""
        async with self.sessions() as session:
            known = set(await session.scalars(select(SubscriptionItem.source_key).where(
                SubscriptionItem.subscription_id == sub.id)))
            new = [e for e in found.entries if e.key not in known]
            if not new:
                return []
            states = rules.states(sub, new, first=sub.checked_at is None, now=utcnow())
            rows = [_row(sub.id, entry, state) for entry, state in zip(new, states, strict=True)]
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            stmt = (dialect.insert(SubscriptionItem).values(rows)
                    .on_conflict_do_nothing(index_elements=["subscription_id", "source_key"])
                    .returning(SubscriptionItem.id))
            ids = list(await session.scalars(stmt))
            await session.commit()
            if not ids:
                return []
            return list(await session.scalars(select(SubscriptionItem).where(SubscriptionItem.id.in_(ids))))

    async def _queue(self, sub: Subscription, found: Listing, items: list[SubscriptionItem]) -> int:
        """A download for each item to fetch, committed before the queue hears of it (a worker must find
        the row); an entry whose address may not be fetched fails alone."""
        made: list[Download] = []
        async with self.sessions() as session:
            for item in items:
                dl = await self._download(session, sub, found, item)
                row = await session.get(SubscriptionItem, item.id)
                if row is None:
                    continue
                if dl is None:
                    row.state = FAILED
                else:
                    made.append(dl)
                    await session.flush()
                    row.download_id = dl.id
            await session.commit()
        for dl in made:
            self.queue.enqueue(dl.id)
            await events.announce(self.notifier, dl)
        return len(made)

    async def _download(self, session: AsyncSession, sub: Subscription, found: Listing,
                        item: SubscriptionItem) -> Download | None:
        try:
            url = await check_url(item.url, allow_private=self.settings.downloads_allow_private_networks,
                                  allowed_sites=self.settings.downloads_allowed_sites)
        except InvalidInput as exc:
            log.info("subscription entry refused", subscription_id=sub.id, url=item.url, reason=exc.message)
            return None
        audio = sub.mode == "audio"
        dl = Download(user_id=sub.user_id, url=url, mode=sub.mode, quality=sub.quality, status=DL_QUEUED,
                      audio_format=(sub.audio_format or "mp3") if audio else None, percent=0.0,
                      downloaded_bytes=0, attempts=0, title=item.title, subscription_id=sub.id,
                      tags=tags(sub, found, item), sponsorblock=sub.sponsorblock)
        session.add(dl)
        return dl

    async def _sync(self, sub_id: int) -> None:
        """Queued items take the outcome of their downloads: done (with the media item) or failed; one
        whose download the user removed before it ended has failed too."""
        async with self.sessions() as session:
            rows = (await session.execute(
                select(SubscriptionItem, Download.status, DownloadItem.media_id)
                .outerjoin(Download, Download.id == SubscriptionItem.download_id)
                .outerjoin(DownloadItem, DownloadItem.download_id == Download.id)
                .where(SubscriptionItem.subscription_id == sub_id, SubscriptionItem.state == QUEUED))).all()
            for item, status, media_id in rows:
                if status is None:
                    item.state = FAILED
                elif status == COMPLETED and media_id is not None:
                    item.state, item.media_id = DONE, media_id
                elif status in FINISHED:
                    item.state = FAILED
            await session.commit()

    async def _prune(self, sub: Subscription) -> int:
        """Remove, file and row together, the downloaded items the rule no longer keeps: beyond the newest
        `keep_last`, or older than `max_age_days`. An item that is also in the library for another reason
        (the user's own download of it, another subscription) leaves the subscription but stays."""
        async with self.sessions() as session:
            done = list(await session.scalars(select(SubscriptionItem).where(
                SubscriptionItem.subscription_id == sub.id, SubscriptionItem.state == DONE)))
            doomed = rules.beyond_rule(sub, done, utcnow())
            owner = await session.get(User, sub.user_id)
            for item in doomed:
                await self._remove(session, owner, sub.id, item)
            await session.commit()
        return len(doomed)

    async def _remove(self, session: AsyncSession, owner: User | None, sub_id: int, item: SubscriptionItem) -> None:
        media_id = item.media_id
        item.state, item.media_id = PRUNED, None
        await session.flush()
        if media_id is None or owner is None or await _kept_elsewhere(session, media_id, sub_id):
            return
        try:
            await delete_media(session, owner, media_id, purge=True, images=self.images)
        except DomainError as exc:  # gone already, or its bucket down: the item leaves the subscription
            log.info("pruned item not removed", media_id=media_id, reason=str(exc))


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
    out = {"album": album}
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
