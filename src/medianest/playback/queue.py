"""What each user plays now (one row per player), and the play queue a user saved to pick up on another
device: Subsonic's getNowPlaying and savePlayQueue/getPlayQueue, kept in the database so every server
process answers the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.db.base import utcnow
from medianest.errors import InvalidInput, NotFound
from medianest.library.models import Media
from medianest.library.service import visible_media
from medianest.playback.models import NowPlaying, PlayQueue

# A player that said nothing for this long after its track should have ended has stopped (apps do not
# always say so); its entry is dropped.
STALE_AFTER = timedelta(minutes=10)
QUEUE_MAX = 5000  # items in a saved queue: a queue of a whole library is a client bug, not a queue
PLAYER_MAX = 255


@dataclass(frozen=True)
class Playing:
    media: Media
    username: str
    player: str
    player_id: int
    minutes_ago: int


async def started(session: AsyncSession, user_id: int, media_id: int, player: str) -> None:
    """The user's `player` started this item (a scrobble with submission=false)."""
    await visible_media(session, media_id)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    stmt = dialect.insert(NowPlaying).values(user_id=user_id, player=player[:PLAYER_MAX], media_id=media_id,
                                             started_at=now)
    await session.execute(stmt.on_conflict_do_update(index_elements=[NowPlaying.user_id, NowPlaying.player],
                                                     set_={"media_id": media_id, "started_at": now}))
    await session.commit()


async def now_playing(session: AsyncSession) -> list[Playing]:
    rows = (await session.execute(
        select(NowPlaying, Media, User.username).join(Media, Media.id == NowPlaying.media_id)
        .join(User, User.id == NowPlaying.user_id).where(Media.deleted_at.is_(None))
        .order_by(NowPlaying.started_at.desc()))).all()
    now, out = utcnow(), []
    for index, (entry, media, username) in enumerate(rows):
        if now - entry.started_at > timedelta(seconds=media.duration_s or 0) + STALE_AFTER:
            continue
        minutes = int((now - entry.started_at).total_seconds() // 60)
        out.append(Playing(media, username, entry.player, index + 1, minutes))
    return out


async def save_queue(session: AsyncSession, user_id: int, media_ids: Sequence[int], current_index: int | None,
                     position_ms: int, client: str) -> None:
    """Replace the user's saved queue; an empty one removes it. Items that are gone are refused."""
    if len(media_ids) > QUEUE_MAX:
        raise InvalidInput("id", f"a queue holds at most {QUEUE_MAX} items")
    if not media_ids:
        await session.execute(delete(PlayQueue).where(PlayQueue.user_id == user_id))
        await session.commit()
        return
    if current_index is not None and not 0 <= current_index < len(media_ids):
        raise InvalidInput("currentIndex", "must point at an item of the queue")
    known = set(await session.scalars(select(Media.id).where(Media.id.in_(set(media_ids)),
                                                             Media.deleted_at.is_(None))))
    missing = [i for i in media_ids if i not in known]
    if missing:
        raise NotFound("media", missing[0])
    queue = await session.get(PlayQueue, user_id) or PlayQueue(user_id=user_id)
    queue.media_ids, queue.current_index, queue.position_ms = list(media_ids), current_index, max(0, position_ms)
    queue.changed_at, queue.changed_by = utcnow(), client[:PLAYER_MAX]
    session.add(queue)
    await session.commit()


async def saved_queue(session: AsyncSession, user_id: int) -> PlayQueue | None:
    return await session.get(PlayQueue, user_id)
