"""Per-user playback state: likes, plays (count + last played, in one transaction), resume points, lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.library.models import Media
from medianest.library.service import visible_media, with_state
from medianest.playback.models import Play, UserMedia
from medianest.playback.schemas import PlayIn

# A resume point this close to the end means "finished": start from the top next time.
RESUME_TAIL_S = 10.0


async def _state(session: AsyncSession, user_id: int, media_id: int) -> UserMedia:
    await visible_media(session, media_id)
    state = await session.get(UserMedia, (user_id, media_id))
    if state is None:
        state = UserMedia(user_id=user_id, media_id=media_id, liked=False, play_count=0)
        session.add(state)
    return state


async def set_liked(session: AsyncSession, user_id: int, media_id: int, liked: bool) -> None:
    state = await _state(session, user_id, media_id)
    if state.liked != liked:
        state.liked, state.liked_at = liked, utcnow() if liked else None
    await session.commit()


async def record_play(session: AsyncSession, user_id: int, media_id: int, body: PlayIn) -> tuple[Play, int]:
    """Add a history row and bump play_count/last_played_at together; returns the play and the new count."""
    media = await visible_media(session, media_id)
    state = await _state(session, user_id, media_id)
    now = utcnow()
    play = Play(user_id=user_id, media_id=media_id, played_at=now, position_s=body.position_s,
                listened_s=body.listened_s, completed=body.completed)
    session.add(play)
    await session.flush()
    # An UPDATE ... SET play_count = play_count + 1 so two players reporting at once both count.
    await session.execute(update(UserMedia).where(UserMedia.user_id == user_id, UserMedia.media_id == media_id)
                          .values(play_count=UserMedia.play_count + 1, last_played_at=now,
                                  position_s=_resume_point(media.duration_s, body)))
    await session.commit()
    await session.refresh(state)
    return play, state.play_count


def _resume_point(duration_s: float | None, body: PlayIn) -> float | None:
    if body.completed or body.position_s is None:
        return None
    if duration_s and body.position_s >= duration_s - RESUME_TAIL_S:
        return None
    return body.position_s


async def set_progress(session: AsyncSession, user_id: int, media_id: int, position_s: float) -> UserMedia:
    state = await _state(session, user_id, media_id)
    state.position_s = position_s
    await session.commit()
    return state


async def get_progress(session: AsyncSession, user_id: int, media_id: int) -> UserMedia | None:
    await visible_media(session, media_id)
    return await session.get(UserMedia, (user_id, media_id))


async def history(session: AsyncSession, user_id: int, offset: int, limit: int,
                  ) -> tuple[list[tuple[Play, Media, UserMedia | None]], int]:
    own = and_(UserMedia.media_id == Media.id, UserMedia.user_id == user_id)
    base = (select(Play, Media, UserMedia).join(Media, Media.id == Play.media_id).outerjoin(UserMedia, own)
            .where(Play.user_id == user_id, Media.deleted_at.is_(None)))
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = await session.execute(base.order_by(Play.played_at.desc(), Play.id.desc()).offset(offset).limit(limit))
    return [(p, m, s) for p, m, s in rows], total


async def state_list(session: AsyncSession, user_id: int, kind: str, offset: int, limit: int,
                     ) -> tuple[list[tuple[Media, UserMedia | None]], int]:
    """favorites (liked, newest like first), frequent (most played), recent (last played first)."""
    stmt = with_state(user_id)
    order: list[Any]
    if kind == "favorites":
        stmt, order = stmt.where(UserMedia.liked.is_(True)), [UserMedia.liked_at.desc().nulls_last()]
    elif kind == "frequent":
        stmt, order = stmt.where(UserMedia.play_count > 0), [UserMedia.play_count.desc(),
                                                            UserMedia.last_played_at.desc()]
    else:
        stmt, order = stmt.where(UserMedia.last_played_at.is_not(None)), [UserMedia.last_played_at.desc()]
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.execute(stmt.order_by(*order, Media.id.desc()).offset(offset).limit(limit))
    return [(m, s) for m, s in rows], total
