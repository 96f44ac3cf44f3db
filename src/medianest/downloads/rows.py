"""The writes a download job makes to its rows, each in a short transaction of its own. Status changes are
conditional (`WHERE status = ...`): a cancel, or another worker, may change the row at any moment, and the
first to write wins."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.downloads.models import CANCELED, COMPLETED, QUEUED, RUNNING, Download, DownloadItem
from medianest.library.models import KIND_AUDIO, KIND_VIDEO, Media
from medianest.text import clean_text

MAX_ERROR_CHARS = 1000


async def claim(sessions: SessionFactory, download_id: int) -> Download | None:
    """The row, now running here under a new `claim` token; None when it is not queued (canceled, finished,
    or another worker has it): a message delivered twice runs once."""
    now = utcnow()
    async with sessions() as session:
        claimed = await session.execute(
            update(Download).where(Download.id == download_id, Download.status == QUEUED)
            .values(status=RUNNING, started_at=now, heartbeat_at=now, error=None, claim=secrets.token_hex(16)))
        await session.commit()
    return await get(sessions, download_id) if claimed.rowcount == 1 else None  # type: ignore[attr-defined]


async def get(sessions: SessionFactory, download_id: int) -> Download:
    async with sessions() as session:
        dl = await session.get(Download, download_id)
    assert dl is not None
    return dl


async def update_row(sessions: SessionFactory, download_id: int, **values: Any) -> None:
    async with sessions() as session:
        await session.execute(update(Download).where(Download.id == download_id).values(**values))
        await session.commit()


async def beat(sessions: SessionFactory, download_id: int, claim: str | None) -> bool:
    """The heartbeat of a running download: while it is fresh, no other worker takes the download back.
    False when it was taken back all the same (this worker looked dead): the claim is someone else's."""
    async with sessions() as session:
        beaten = await session.execute(update(Download).where(
            Download.id == download_id, Download.status == RUNNING, Download.claim == claim)
            .values(heartbeat_at=utcnow()))
        await session.commit()
    # Not running any more (a cancel, which its own poll handles) is not the same as taken back.
    return beaten.rowcount == 1 or await holds(sessions, download_id, claim)  # type: ignore[attr-defined]


async def holds(sessions: SessionFactory, download_id: int, claim: str | None) -> bool:
    """Whether `claim` is still the download's (no other worker took it back)."""
    async with sessions() as session:
        return bool(await session.scalar(select(Download.claim).where(Download.id == download_id)) == claim)


async def back_to_queue(sessions: SessionFactory, download_id: int, claim: str | None) -> None:
    """This process stops: the download is queued again, unless a cancel came first or it was taken back."""
    async with sessions() as session:
        await session.execute(update(Download).where(
            Download.id == download_id, Download.status == RUNNING, Download.claim == claim)
            .values(status=QUEUED, heartbeat_at=None, phase=None))
        await session.commit()


async def finish(sessions: SessionFactory, download_id: int, claim: str | None, status: str,
                 error: str | None = None, **extra: Any) -> bool:
    """Whether the running row took `status` (a cancel that landed meanwhile wins, and has announced itself;
    a run whose download was taken back writes nothing)."""
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "phase": None,
                              "error": None if error is None else clean_text(error)[:MAX_ERROR_CHARS],
                              "speed_bps": None, "eta_s": None, **extra}
    if status == COMPLETED:
        values["percent"] = 100.0
    async with sessions() as session:
        done = await session.execute(update(Download).where(
            Download.id == download_id, Download.status == RUNNING, Download.claim == claim).values(**values))
        await session.commit()
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


async def canceled(sessions: SessionFactory, download_id: int) -> bool:
    async with sessions() as session:
        status = await session.scalar(select(Download.status).where(Download.id == download_id))
    return status in (CANCELED, None)


async def stored_items(sessions: SessionFactory, download_id: int) -> list[DownloadItem]:
    async with sessions() as session:
        return list((await session.scalars(select(DownloadItem).where(DownloadItem.download_id == download_id)
                                           .order_by(DownloadItem.position))).all())


async def store_items(sessions: SessionFactory, download_id: int, info: dict[str, Any],
                      found: list[dict[str, Any]]) -> list[DownloadItem]:
    """What the URL holds (a playlist's entries, or the one video), stored once, with the download's title."""
    async with sessions() as session:
        items = [DownloadItem(download_id=download_id, position=i, url=e["url"], title=e.get("title"),
                              source_site=e.get("site") or info.get("site"), source_id=e.get("id") or None)
                 for i, e in enumerate(found)]
        session.add_all(items)
        # A title given when the download was made (a subscription's episode title) stays.
        await session.execute(update(Download).where(Download.id == download_id).values(
            title=func.coalesce(Download.title, info.get("title"))))
        await session.commit()
    return items


async def link_existing(sessions: SessionFactory, mode: str, item: DownloadItem) -> bool:
    """The same source in the same mode already in the library: link it instead of downloading."""
    if not item.source_id or not item.source_site:
        return False
    kind = KIND_AUDIO if mode == "audio" else KIND_VIDEO
    async with sessions() as session:
        media_id = await session.scalar(select(Media.id).where(
            Media.source_site == item.source_site, Media.source_id == item.source_id, Media.kind == kind,
            Media.deleted_at.is_(None)).limit(1))
        if media_id is None:
            return False
        await session.execute(update(DownloadItem).where(DownloadItem.id == item.id).values(media_id=media_id))
        await session.commit()
    return True


async def link_media(sessions: SessionFactory, item: DownloadItem, media_id: int, title: str | None) -> None:
    async with sessions() as session:
        await session.execute(update(DownloadItem).where(DownloadItem.id == item.id)
                              .values(media_id=media_id, title=title or item.title))
        await session.commit()


async def requeue_stale(sessions: SessionFactory, stale_after_s: float, include_queued: bool = False) -> list[int]:
    """The downloads to queue again: running rows without a recent heartbeat (flipped back to queued), and
    (at start-up) queued rows, whose message may have died with the worker that had taken it. A duplicate
    message is harmless: only one runner can claim a row."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    silent = or_(Download.heartbeat_at.is_(None), Download.heartbeat_at < cutoff)
    async with sessions() as session:
        # One statement decides and flips: a row claimed by a live runner a moment ago is not silent,
        # so it can never be taken back (a select, then an update, could).
        flipped = await session.execute(update(Download).where(Download.status == RUNNING, silent)
                                        .values(status=QUEUED).returning(Download.id))
        ids = list(flipped.scalars().all())
        await session.commit()
        if include_queued:
            ids = list((await session.scalars(select(Download.id).where(Download.status == QUEUED)
                                              .order_by(Download.id))).all())
    return ids


async def target_of(sessions: SessionFactory, item_id: int) -> str | None:
    """The bucket key an item's file was given by an earlier run, if any."""
    async with sessions() as session:
        return await session.scalar(select(DownloadItem.target).where(DownloadItem.id == item_id))


async def set_target(sessions: SessionFactory, download_id: int, item_id: int, claim: str | None, key: str) -> bool:
    """Record the key an item's file goes to, if this run still holds the download and no run chose one
    first; whether it was recorded."""
    held = select(Download.id).where(Download.id == download_id, Download.claim == claim).exists()
    async with sessions() as session:
        done = await session.execute(update(DownloadItem).where(
            DownloadItem.id == item_id, DownloadItem.target.is_(None), held).values(target=key))
        await session.commit()
    return bool(getattr(done, "rowcount", 0))


async def unindexed_targets(sessions: SessionFactory, download_id: int) -> list[tuple[int, str]]:
    """(item id, key) of the download's items given a key but never linked to media."""
    async with sessions() as session:
        rows = await session.execute(select(DownloadItem.id, DownloadItem.target).where(
            DownloadItem.download_id == download_id, DownloadItem.target.is_not(None), DownloadItem.media_id.is_(None)))
        return [(item_id, key) for item_id, key in rows if key is not None]


async def forget_target(sessions: SessionFactory, item_id: int) -> None:
    async with sessions() as session:
        await session.execute(update(DownloadItem).where(DownloadItem.id == item_id).values(target=None))
        await session.commit()


async def key_indexed(sessions: SessionFactory, url: str) -> bool:
    async with sessions() as session:
        return await session.scalar(select(Media.id).where(Media.path == url).limit(1)) is not None


async def key_taken(sessions: SessionFactory, url: str, key: str) -> bool:
    """Whether an indexed item is the object at `url`, or another download item chose `key`."""
    async with sessions() as session:
        item = await session.scalar(select(DownloadItem.id).where(DownloadItem.target == key).limit(1))
    return item is not None or await key_indexed(sessions, url)


async def unfinished(sessions: SessionFactory, ids: list[int]) -> set[int]:
    """Which of these downloads are queued or running."""
    found: set[int] = set()
    async with sessions() as session:
        for i in range(0, len(ids), 500):
            found.update(await session.scalars(select(Download.id).where(
                Download.id.in_(ids[i:i + 500]), Download.status.in_((QUEUED, RUNNING)))))
    return found
