"""Routes: likes, plays, resume points, and the caller's history / favorites / frequent / recent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response

from medianest.api.deps import CurrentUser, PageDep, SessionDep, parse_id
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.api.routes.library import ViewerDep
from medianest.library.schemas import MediaOut, media_out
from medianest.playback import service
from medianest.playback.schemas import HistoryEntry, PlayIn, PlayOut, ProgressIn, ProgressOut

router = APIRouter(prefix="/api/v1", tags=["playback"], responses=errors(401, 403))


@router.put("/media/{media_id}/like", status_code=204, responses=errors(404))
async def like(media_id: str, user: CurrentUser, session: SessionDep) -> Response:
    await service.set_liked(session, user.id, parse_id(media_id, "media"), True)
    return Response(status_code=204)


@router.delete("/media/{media_id}/like", status_code=204, responses=errors(404))
async def unlike(media_id: str, user: CurrentUser, session: SessionDep) -> Response:
    await service.set_liked(session, user.id, parse_id(media_id, "media"), False)
    return Response(status_code=204)


@router.post("/media/{media_id}/plays", status_code=201, responses=errors(404, 422))
async def record_play(media_id: str, body: PlayIn, user: CurrentUser, session: SessionDep,
                      ) -> Envelope[PlayOut]:
    """Report a play: adds to history and updates play_count and last_played_at together."""
    play, count = await service.record_play(session, user.id, parse_id(media_id, "media"), body)
    return ok(PlayOut(id=str(play.id), media_id=media_id, played_at=play.played_at,
                      position_s=play.position_s, listened_s=play.listened_s, completed=play.completed,
                      play_count=count))


@router.get("/media/{media_id}/progress", responses=errors(404))
async def get_progress(media_id: str, user: CurrentUser, session: SessionDep) -> Envelope[ProgressOut]:
    state = await service.get_progress(session, user.id, parse_id(media_id, "media"))
    return ok(ProgressOut(media_id=media_id, position_s=state.position_s if state else None,
                          updated_at=state.updated_at if state else None))


@router.put("/media/{media_id}/progress", responses=errors(404, 422))
async def put_progress(media_id: str, body: ProgressIn, user: CurrentUser, session: SessionDep,
                       ) -> Envelope[ProgressOut]:
    """Save the resume point."""
    position, saved_at = await service.set_progress(session, user.id, parse_id(media_id, "media"), body.position_s)
    return ok(ProgressOut(media_id=media_id, position_s=position, updated_at=saved_at))


@router.get("/me/history", responses=errors(422))
async def history(user: CurrentUser, session: SessionDep, viewer: ViewerDep, paging: PageDep,
                  ) -> Page[HistoryEntry]:
    rows, total = await service.history(session, user.id, paging.offset, paging.per_page)
    items = [HistoryEntry(id=str(p.id), played_at=p.played_at, completed=p.completed, listened_s=p.listened_s,
                          media=media_out(m, s, viewer)) for p, m, s in rows]
    return page(items, page=paging.page, per_page=paging.per_page, total=total)


def _lister(kind: str) -> Callable[..., Awaitable[Page[MediaOut]]]:
    async def handler(user: CurrentUser, session: SessionDep, viewer: ViewerDep, paging: PageDep,
                      ) -> Page[MediaOut]:
        rows, total = await service.state_list(session, user.id, kind, paging.offset, paging.per_page)
        items = [media_out(m, s, viewer) for m, s in rows]
        return page(items, page=paging.page, per_page=paging.per_page, total=total)

    handler.__name__ = f"my_{kind}"
    handler.__doc__ = {"favorites": "Liked items, newest like first.", "frequent": "Most played first.",
                       "recent": "Last played first."}[kind]
    return handler


for _kind in ("favorites", "frequent", "recent"):
    router.add_api_route(f"/me/{_kind}", _lister(_kind), methods=["GET"], responses=errors(422),
                         response_model=Page[MediaOut])

