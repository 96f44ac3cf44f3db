"""A user's marks beyond likes and plays: ratings (of items, albums and artists), stars on albums and
artists (an item's star is its like), and bookmarks (an item's resume point, with a note)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.errors import InvalidInput, NotFound
from medianest.library.models import Album, Artist, Media, UserCatalog, UserMedia
from medianest.library.service import visible_media, with_state
from medianest.playback.service import _upsert, set_progress

COMMENT_MAX = 1024


def _dialect(session: AsyncSession) -> Any:
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


async def rate_item(session: AsyncSession, user_id: int, media_id: int, rating: int) -> None:
    """1-5 stars; 0 removes the rating."""
    _check_rating(rating)
    await visible_media(session, media_id)
    value = rating or None
    await session.execute(_upsert(session, user_id, media_id, {"rating": value}, {"rating": value}))
    await session.commit()


async def mark_catalog(session: AsyncSession, user_id: int, kind: str, key: str, *, starred: bool | None = None,
                       rating: int | None = None) -> None:
    """Star or unstar, or rate (0 removes), an album or artist."""
    model: Any = Album if kind == "album" else Artist
    if await session.get(model, key) is None and not (kind == "artist" and await _track_artist(session, key)):
        raise NotFound(kind, key)
    changes: dict[str, Any] = {}
    if starred is not None:
        changes["starred_at"] = utcnow() if starred else None
    if rating is not None:
        _check_rating(rating)
        changes["rating"] = rating or None
    stmt = _dialect(session).insert(UserCatalog).values(user_id=user_id, kind=kind, key=key, **changes)
    if starred:  # starring again keeps the first date, as an item's like does
        changes["starred_at"] = func.coalesce(UserCatalog.starred_at, stmt.excluded.starred_at)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[UserCatalog.user_id, UserCatalog.kind, UserCatalog.key], set_=changes))
    await session.commit()


async def _track_artist(session: AsyncSession, key: str) -> bool:
    return await session.scalar(select(Media.id).where(Media.artist_key == key).limit(1)) is not None


def _check_rating(rating: int) -> None:
    if not 0 <= rating <= 5:
        raise InvalidInput("rating", "must be 0 (none) to 5")


async def bookmarks(session: AsyncSession, user_id: int) -> list[tuple[Media, UserMedia]]:
    stmt = with_state(user_id).where(UserMedia.position_s.is_not(None), UserMedia.position_s > 0).order_by(
        UserMedia.updated_at.desc())
    return [(m, s) for m, s in (await session.execute(stmt)).all() if s is not None]


async def set_bookmark(session: AsyncSession, user_id: int, media_id: int, position_s: float,
                       comment: str | None) -> None:
    await set_progress(session, user_id, media_id, max(0.0, position_s))
    await session.execute(update(UserMedia).where(and_(UserMedia.user_id == user_id, UserMedia.media_id == media_id))
                          .values(bookmark_comment=(comment or None) and comment[:COMMENT_MAX]))
    await session.commit()


async def delete_bookmark(session: AsyncSession, user_id: int, media_id: int) -> None:
    state = await session.get(UserMedia, (user_id, media_id))
    if state is None or state.position_s is None:
        raise NotFound("bookmark", media_id)
    state.position_s, state.bookmark_comment = None, None
    await session.commit()
