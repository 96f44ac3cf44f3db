"""Routes: /api/v1/downloads (preview, queue, list, get, cancel or remove, retry, clear finished)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.api.deps import CurrentUser, PageDep, SessionDep, parse_id, parts
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.downloads import service
from medianest.downloads.models import Download
from medianest.downloads.schemas import (
    AUDIO_FORMATS,
    URL_PATTERN,
    ClearedOut,
    DownloadIn,
    DownloadOut,
    PreviewOut,
    Status,
)

router = APIRouter(prefix="/api/v1/downloads", tags=["downloads"], responses=errors(401, 403))


def _downloads(request: Request) -> service.Downloads:
    ctx: service.Downloads = parts(request).downloads
    return ctx


DownloadsDep = Annotated[service.Downloads, Depends(_downloads)]


async def _out(session: AsyncSession, dl: Download) -> DownloadOut:
    return DownloadOut.of(dl, (await service.items_of(session, [dl.id]))[dl.id])


@router.get("/preview", responses=errors(400, 422, 503))
async def preview(user: CurrentUser, ctx: DownloadsDep,
                  url: Annotated[str, Query(min_length=1, max_length=2048, pattern=URL_PATTERN)],
                  ) -> Envelope[PreviewOut]:
    """What a URL holds - title, duration, channel, the qualities really available, playlist entries -
    without downloading anything."""
    return ok(PreviewOut.of(await service.preview(ctx, url), list(AUDIO_FORMATS)))


@router.post("", status_code=202, responses=errors(422, 429))
async def create(body: DownloadIn, user: CurrentUser, session: SessionDep, ctx: DownloadsDep) -> Envelope[DownloadOut]:
    """Queue a download; progress arrives as `download:*` events and on GET."""
    return ok(await _out(session, await service.create(ctx, session, user, body)))


@router.get("", responses=errors(422))
async def list_downloads(user: CurrentUser, session: SessionDep, paging: PageDep,
                         status: Status | None = None) -> Page[DownloadOut]:
    """The caller's downloads, newest first (an admin sees everyone's)."""
    rows, total = await service.list_downloads(session, user, status, paging.offset, paging.per_page)
    items = await service.items_of(session, [d.id for d in rows])
    return page([DownloadOut.of(d, items[d.id]) for d in rows], page=paging.page, per_page=paging.per_page,
                total=total)


@router.delete("", responses=errors())
async def clear_finished(user: CurrentUser, session: SessionDep, ctx: DownloadsDep) -> Envelope[ClearedOut]:
    """Remove the caller's completed, failed and canceled downloads from the list (media stay)."""
    return ok(ClearedOut(removed=await service.clear_finished(ctx, session, user)))


@router.get("/{download_id}", responses=errors(404))
async def get_download(download_id: str, user: CurrentUser, session: SessionDep) -> Envelope[DownloadOut]:
    return ok(await _out(session, await service.get(session, user, parse_id(download_id, "download"))))


@router.delete("/{download_id}", response_model=Envelope[DownloadOut],
               responses={**errors(404), 204: {"description": "a finished download removed"}})
async def cancel_or_remove(download_id: str, user: CurrentUser, session: SessionDep,
                           ctx: DownloadsDep) -> Envelope[DownloadOut] | Response:
    """Cancel a queued or running download (200, its state), or remove a finished one (204)."""
    dl = await service.cancel_or_remove(ctx, session, user, parse_id(download_id, "download"))
    return Response(status_code=204) if dl is None else ok(await _out(session, dl))


@router.post("/{download_id}/retry", status_code=202, responses=errors(404, 409, 429))
async def retry(download_id: str, user: CurrentUser, session: SessionDep, ctx: DownloadsDep) -> Envelope[DownloadOut]:
    """Queue a failed or canceled download again."""
    return ok(await _out(session, await service.retry(ctx, session, user, parse_id(download_id, "download"))))
