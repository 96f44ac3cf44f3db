"""Per-user playback state: likes, plays (count + last played, in one transaction), resume points, lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import UTCDateTime, utcnow
from medianest.db.queries import count_rows
from medianest.library.models import Media, UserMedia
from medianest.library.service import visible_media, with_state
from medianest.playback.models import Play
from medianest.playback.schemas import PlayIn

# A resume point this close to the end means "finished": start from the top next time. Capped at a
# fraction of the duration so short clips (a 3 s sample) can still be resumed at all.
RESUME_TAIL_S = 10.0
RESUME_TAIL_FRACTION = 0.05


# Each change below is one INSERT ... ON CONFLICT DO UPDATE ... RETURNING, run after the item is checked:
# SQLite's write lock is held from a transaction's first write to its COMMIT, so the reads come first and
# the write is one statement (it was three: insert-if-missing, read back, update). The upsert also keeps
# two first reports for one item at once (two tabs, a retry) from both inserting.


def _upsert(session: AsyncSession, user_id: int, media_id: int, new: dict[str, Any], changes: dict[str, Any],
            ) -> Any:
    """The user's row for the item: inserted with `new`, or updated with `changes` (values or SQL)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    values = {"liked": False, "play_count": 0, **new}
    stmt = dialect.insert(UserMedia).values(user_id=user_id, media_id=media_id, updated_at=now, **values)
    return stmt.on_conflict_do_update(index_elements=[UserMedia.user_id, UserMedia.media_id],
                                      set_={**changes, "updated_at": now})


async def set_liked(session: AsyncSession, user_id: int, media_id: int, liked: bool) -> None:
    await visible_media(session, media_id)
    liked_at = utcnow() if liked else None
    # liked_at says when it was liked: kept when the state does not change (a second PUT).
    kept = case((UserMedia.liked == liked, UserMedia.liked_at), else_=liked_at)
    await session.execute(_upsert(session, user_id, media_id, {"liked": liked, "liked_at": liked_at},
                                  {"liked": liked, "liked_at": kept}))
    await session.commit()


async def record_play(session: AsyncSession, user_id: int, media_id: int, body: PlayIn,
                      played_at: datetime | None = None) -> tuple[Play, int]:
    """Add a history row and bump play_count/last_played_at together; returns the play and the new count.

    `played_at` (default now) is for plays reported after the fact, as apps do with plays kept offline;
    last_played_at keeps the later of it and the stored one, so a late report never makes an item less recent.
    """
    media = await visible_media(session, media_id)
    now = played_at or utcnow()
    later = case((UserMedia.last_played_at > now, UserMedia.last_played_at), else_=literal(now, UTCDateTime))
    # SET play_count = play_count + 1, in SQL, so two players reporting at once both count.
    changes: dict[str, Any] = {"play_count": UserMedia.play_count + 1, "last_played_at": later}
    new: dict[str, Any] = {"play_count": 1, "last_played_at": now}
    resume = _resume_point(media.duration_s, body)
    if resume is not _KEEP:
        changes["position_s"] = new["position_s"] = resume
    count = (await session.execute(_upsert(session, user_id, media_id, new, changes)
                                   .returning(UserMedia.play_count))).scalar_one()
    play = Play(user_id=user_id, media_id=media_id, played_at=now, position_s=body.position_s,
                listened_s=body.listened_s, completed=body.completed)
    session.add(play)
    await session.commit()
    return play, count


_KEEP = object()  # the report says nothing about where playback stopped: the resume point stays


def _resume_point(duration_s: float | None, body: PlayIn) -> float | object | None:
    if body.completed:
        return None
    if body.position_s is None:
        return _KEEP
    if duration_s and body.position_s >= duration_s - min(RESUME_TAIL_S, duration_s * RESUME_TAIL_FRACTION):
        return None
    return body.position_s


async def set_progress(session: AsyncSession, user_id: int, media_id: int, position_s: float,
                       ) -> tuple[float | None, datetime]:
    """The stored resume point and when it was saved."""
    await visible_media(session, media_id)
    stmt = _upsert(session, user_id, media_id, {"position_s": position_s}, {"position_s": position_s})
    row = (await session.execute(stmt.returning(UserMedia.position_s, UserMedia.updated_at))).one()
    await session.commit()
    return row.position_s, row.updated_at


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
