"""Downloads as the API sees them: preview, queue, list, cancel or remove, retry, clear."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.db.queries import count_rows
from medianest.downloads import events, process
from medianest.downloads.models import CANCELED, FAILED, FINISHED, QUEUED, RUNNING, Download, DownloadItem
from medianest.downloads.safety import check_url
from medianest.downloads.schemas import DownloadIn
from medianest.downloads.spec import Failure
from medianest.errors import BadRequest, Conflict, NotFound, UpstreamUnavailable
from medianest.events import Notifier
from medianest.jobs.queue import Task
from medianest.security.limits import RateLimits

PREVIEW_TIMEOUT_S = 60


@dataclass(frozen=True)
class Downloads:
    """What the download routes need, built once in the app's lifespan."""

    settings: Settings
    queue: Task  # "download N" (downloads/tasks.py)
    limits: RateLimits
    notifier: Notifier

    async def checked_url(self, url: str) -> str:
        return await check_url(url, allow_private=self.settings.downloads_allow_private_networks,
                               allowed_sites=self.settings.downloads_allowed_sites)


async def preview(ctx: Downloads, url: str) -> dict[str, object]:
    """What the URL holds (title, qualities, entries...), without downloading it."""
    checked = await ctx.checked_url(url)
    args = (checked, None, ctx.settings.ffmpeg_path)
    try:  # in a child process, guarded like a download's: a redirect cannot reach a private address
        return await process.run("entries", args, ctx.settings.downloads_allow_private_networks, PREVIEW_TIMEOUT_S)
    except Failure as failure:
        raise BadRequest(f"cannot read this URL: {failure.reason}") from None
    except TimeoutError:
        raise UpstreamUnavailable("the site", "too slow to answer") from None


async def create(ctx: Downloads, session: AsyncSession, user: User, body: DownloadIn) -> Download:
    url = await ctx.checked_url(body.url)
    await ctx.limits.hit("downloads", str(user.id), "downloads")
    audio = body.mode == "audio"
    dl = Download(user_id=user.id, url=url, mode=body.mode, quality=body.quality, status=QUEUED,
                  audio_format=(body.audio_format or "mp3") if audio else None,
                  audio_quality=body.audio_quality.removesuffix("k") if audio and body.audio_quality else None,
                  playlist_limit=body.playlist_limit, percent=0.0, downloaded_bytes=0, attempts=0)
    session.add(dl)
    await session.commit()
    ctx.queue.enqueue(dl.id)
    await events.announce(ctx.notifier, dl)
    return dl


async def get(session: AsyncSession, user: User, download_id: int) -> Download:
    """The download, if the caller may see it (their own; an admin sees all). Others' are a 404."""
    dl = await session.get(Download, download_id)
    if dl is None or (dl.user_id != user.id and not user.is_admin):
        raise NotFound("download", download_id)
    return dl


async def items_of(session: AsyncSession, download_ids: Sequence[int]) -> dict[int, list[DownloadItem]]:
    rows = await session.scalars(select(DownloadItem).where(DownloadItem.download_id.in_(download_ids))
                                 .order_by(DownloadItem.download_id, DownloadItem.position))
    found: dict[int, list[DownloadItem]] = {i: [] for i in download_ids}
    for item in rows:
        found[item.download_id].append(item)
    return found


async def list_downloads(session: AsyncSession, user: User, status: str | None, offset: int,
                         limit: int) -> tuple[list[Download], int]:
    query = select(Download)
    if not user.is_admin:
        query = query.where(Download.user_id == user.id)
    if status:
        query = query.where(Download.status == status)
    total = await count_rows(session, query)
    rows = await session.scalars(query.order_by(Download.id.desc()).offset(offset).limit(limit))
    return list(rows.all()), total


async def cancel_or_remove(ctx: Downloads, session: AsyncSession, user: User, download_id: int) -> Download | None:
    """A queued or running download is canceled (its worker stops it and removes its temporary files);
    a finished one is removed from the list (its media stay in the library). None when removed."""
    dl = await get(session, user, download_id)
    if dl.status in FINISHED:
        await session.delete(dl)
        await session.commit()
        await ctx.notifier.close_room(f"download:{dl.id}")  # nobody stays subscribed to a removed download
        return None
    await session.execute(update(Download).where(Download.id == dl.id, Download.status.in_((QUEUED, RUNNING)))
                          .values(status=CANCELED, finished_at=utcnow(), phase=None, speed_bps=None, eta_s=None))
    await session.commit()
    await session.refresh(dl)
    if dl.status == CANCELED:
        await events.announce(ctx.notifier, dl)
    return dl


async def retry(ctx: Downloads, session: AsyncSession, user: User, download_id: int) -> Download:
    dl = await get(session, user, download_id)
    if dl.status not in (FAILED, CANCELED):
        raise Conflict(f"only a failed or canceled download can be retried (this one is {dl.status})")
    await ctx.limits.hit("downloads", str(user.id), "downloads")
    dl.status, dl.error, dl.attempts, dl.finished_at, dl.started_at = QUEUED, None, 0, None, None
    dl.percent, dl.downloaded_bytes, dl.phase = 0.0, 0, None
    await session.commit()
    ctx.queue.enqueue(dl.id)
    await events.announce(ctx.notifier, dl)
    return dl


async def clear_finished(ctx: Downloads, session: AsyncSession, user: User) -> int:
    """Remove the caller's finished downloads from the list (their media stay), and empty their rooms."""
    removed = list(await session.scalars(delete(Download).where(
        Download.user_id == user.id, Download.status.in_(FINISHED)).returning(Download.id)))
    await session.commit()
    for download_id in removed:
        await ctx.notifier.close_room(f"download:{download_id}")
    return len(removed)
