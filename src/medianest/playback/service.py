"""Per-user playback state: likes, plays (count + last played, in one transaction), resume points, lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.db.queries import count_rows
from medianest.library.models import Media
from medianest.library.service import visible_media, with_state
from medianest.playback.models import Play, UserMedia
from medianest.playback.schemas import PlayIn

# A resume point this close to the end means "finished": start from the top next time. Capped at a
# fraction of the duration so short clips (a 3 s sample) can still be resumed at all.
RESUME_TAIL_S = 10.0
RESUME_TAIL_FRACTION = 0.05


async def _state(session: AsyncSession, user_id: int, media_id: int) -> UserMedia:
    """The user's row for the item, created if missing."""
    await visible_media(session, media_id)
    # INSERT ... ON CONFLICT DO NOTHING, not get-then-add: two first reports for one item at once (two
    # tabs, a retry) would otherwise both insert and one would fail on the primary key.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(UserMedia)
    await session.execute(insert.values(user_id=user_id, media_id=media_id, liked=False, play_count=0,
                                        updated_at=utcnow()).on_conflict_do_nothing())
    state = await session.get(UserMedia, (user_id, media_id), populate_existing=True)
    assert state is not None  # inserted above, or already there
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
    mine = (UserMedia.user_id == user_id, UserMedia.media_id == media_id)
    resume = _resume_point(media.duration_s, body, state.position_s)
    await session.execute(update(UserMedia).where(*mine).values(
        play_count=UserMedia.play_count + 1, last_played_at=now, position_s=resume))
    await session.commit()
    await session.refresh(state)
    return play, state.play_count


def _resume_point(duration_s: float | None, body: PlayIn, current: float | None) -> float | None:
    if body.completed:
        return None
    if body.position_s is None:
        return current  # the report says nothing about where playback stopped
    if duration_s and body.position_s >= duration_s - min(RESUME_TAIL_S, duration_s * RESUME_TAIL_FRACTION):
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
    total = await count_rows(session, base)
    newest_first = (Play.played_at.desc(), Play.id.desc())
    rows = await session.execute(base.order_by(*newest_first).offset(offset).limit(limit))
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
    total = await count_rows(session, stmt)
    rows = await session.execute(stmt.order_by(*order, Media.id.desc()).offset(offset).limit(limit))
    return [(m, s) for m, s in rows], total
