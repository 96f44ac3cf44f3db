"""Playlists: owner-only changes, public ones readable by all, contiguous 0-based item positions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy import delete as sql_delete  # `delete` below is the playlist operation
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.db.queries import count_rows
from medianest.errors import Conflict, Forbidden, InvalidInput, NotFound
from medianest.library.models import Media, UserMedia
from medianest.library.schemas import Viewer, media_out
from medianest.library.service import visible_media
from medianest.playlists import m3u
from medianest.playlists.matching import portable_path
from medianest.playlists.models import Playlist, PlaylistItem
from medianest.playlists.schemas import ItemIn, PlaylistIn, PlaylistItemOut, PlaylistOut, PlaylistPatch

MAX_ITEMS = 10_000


async def readable(session: AsyncSession, user_id: int, playlist_id: int) -> Playlist:
    """The playlist if the user owns it or it is public; otherwise it does not exist for them."""
    pl = await session.get(Playlist, playlist_id)
    if pl is None or pl.importing or (pl.owner_id != user_id and not pl.is_public):
        raise NotFound("playlist", playlist_id)
    return pl


async def owned(session: AsyncSession, user_id: int, playlist_id: int) -> Playlist:
    pl = await readable(session, user_id, playlist_id)
    if pl.owner_id != user_id:
        raise Forbidden("only the owner can change this playlist")
    return pl


async def _editing(session: AsyncSession, user_id: int, playlist_id: int) -> Playlist:
    """The owner's playlist, locked for an item change, without items whose media was soft-deleted."""
    pl = await owned(session, user_id, playlist_id)
    # Writing the row first takes a lock (the row on PostgreSQL, the database on SQLite): two item changes
    # to one playlist at once then run one after the other instead of both computing the same positions.
    await session.execute(update(Playlist).where(Playlist.id == pl.id).values(updated_at=utcnow()))
    await _prune(session, pl.id)
    return pl


async def _prune(session: AsyncSession, playlist_id: int) -> None:
    """Drop items of soft-deleted media and close the gaps: readers never see those items, so the
    positions they see (0..n-1 over the rest) must be the stored ones that changes are made against."""
    dead = list(await session.scalars(
        select(PlaylistItem.id).join(Media, Media.id == PlaylistItem.media_id)
        .where(PlaylistItem.playlist_id == playlist_id, Media.deleted_at.is_not(None))))
    if not dead:
        return
    await session.execute(sql_delete(PlaylistItem).where(PlaylistItem.id.in_(dead)))
    ids = list(await session.scalars(select(PlaylistItem.id).where(PlaylistItem.playlist_id == playlist_id)
                                     .order_by(PlaylistItem.position, PlaylistItem.id)))
    if ids:
        await session.execute(update(PlaylistItem), [{"id": i, "position": n} for n, i in enumerate(ids)])


def visible_to(user_id: int) -> Select[Playlist]:
    return select(Playlist).where(or_(Playlist.owner_id == user_id, Playlist.is_public.is_(True)),
                                  Playlist.importing.is_(False))


async def list_playlists(session: AsyncSession, user_id: int, offset: int, limit: int, mine: bool,
                         ) -> tuple[list[PlaylistOut], int]:
    stmt = visible_to(user_id)
    if mine:
        stmt = stmt.where(Playlist.owner_id == user_id)
    total = await count_rows(session, stmt)
    rows = list(await session.scalars(stmt.order_by(Playlist.name, Playlist.id).offset(offset).limit(limit)))
    return [await summary(session, pl) for pl in rows], total


async def summary(session: AsyncSession, pl: Playlist) -> PlaylistOut:
    count, duration = (await session.execute(
        select(func.count(PlaylistItem.id), func.coalesce(func.sum(Media.duration_s), 0.0))
        .join(Media, Media.id == PlaylistItem.media_id)
        .where(PlaylistItem.playlist_id == pl.id, Media.deleted_at.is_(None)))).one()
    return PlaylistOut(id=str(pl.id), name=pl.name, description=pl.description, is_public=pl.is_public,
                       owner_id=str(pl.owner_id), item_count=count,
                       duration_s=round(float(duration or 0.0), 3), created_at=pl.created_at,
                       updated_at=pl.updated_at)


async def detail(session: AsyncSession, pl: Playlist, viewer: Viewer) -> PlaylistOut:
    out = await summary(session, pl)
    own = and_(UserMedia.media_id == Media.id, UserMedia.user_id == viewer.user_id)
    rows = await session.execute(
        select(PlaylistItem, Media, UserMedia).join(Media, Media.id == PlaylistItem.media_id)
        .outerjoin(UserMedia, own).where(PlaylistItem.playlist_id == pl.id, Media.deleted_at.is_(None))
        .order_by(PlaylistItem.position, PlaylistItem.id))
    # Numbered over the visible items: stored positions may still have gaps left by soft-deleted media
    # (pruned on the owner's next change), and clients send these numbers back.
    out.items = [PlaylistItemOut(id=str(i.id), media_id=str(m.id), position=n, added_at=i.added_at,
                                 media=media_out(m, s, viewer)) for n, (i, m, s) in enumerate(rows)]
    return out


async def create(session: AsyncSession, user_id: int, body: PlaylistIn) -> Playlist:
    pl = Playlist(owner_id=user_id, name=body.name, description=body.description,
                  is_public=body.is_public)
    session.add(pl)
    await session.commit()
    return pl


async def patch(session: AsyncSession, user_id: int, playlist_id: int, body: PlaylistPatch) -> Playlist:
    pl = await owned(session, user_id, playlist_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is not None or field == "description":
            setattr(pl, field, value)
    await session.commit()
    return pl


async def delete(session: AsyncSession, user_id: int, playlist_id: int) -> None:
    await session.delete(await owned(session, user_id, playlist_id))
    await session.commit()


async def _count(session: AsyncSession, playlist_id: int) -> int:
    return await session.scalar(select(func.count()).where(PlaylistItem.playlist_id == playlist_id)) or 0


async def add_item(session: AsyncSession, user_id: int, playlist_id: int, body: ItemIn, media_id: int,
                   ) -> PlaylistItem:
    pl = await _editing(session, user_id, playlist_id)
    await visible_media(session, media_id)
    count = await _count(session, pl.id)
    if count >= MAX_ITEMS:
        raise Conflict(f"a playlist holds at most {MAX_ITEMS} items")
    position = count if body.position is None else min(body.position, count)
    await _shift(session, pl.id, position, None, +1)
    item = PlaylistItem(playlist_id=pl.id, media_id=media_id, position=position)
    session.add(item)
    await session.commit()
    return item


async def move_item(session: AsyncSession, user_id: int, playlist_id: int, item_id: int, position: int,
                    ) -> None:
    pl = await _editing(session, user_id, playlist_id)
    item = await _item(session, pl.id, item_id)
    target = min(position, await _count(session, pl.id) - 1)
    if target > item.position:
        await _shift(session, pl.id, item.position + 1, target, -1)
    elif target < item.position:
        await _shift(session, pl.id, target, item.position - 1, +1)
    item.position = target
    await session.commit()


async def remove_item(session: AsyncSession, user_id: int, playlist_id: int, item_id: int) -> None:
    pl = await _editing(session, user_id, playlist_id)
    item = await _item(session, pl.id, item_id)
    await session.delete(item)
    await session.flush()
    await _shift(session, pl.id, item.position + 1, None, -1)
    await session.commit()


async def _item(session: AsyncSession, playlist_id: int, item_id: int) -> PlaylistItem:
    item = await session.get(PlaylistItem, item_id)
    if item is None or item.playlist_id != playlist_id:
        raise NotFound("playlist item", item_id)
    return item


async def _shift(session: AsyncSession, playlist_id: int, first: int, last: int | None, by: int) -> None:
    """Move positions first..last (inclusive; open-ended when last is None) by `by`."""
    cond = [PlaylistItem.playlist_id == playlist_id, PlaylistItem.position >= first]
    if last is not None:
        cond.append(PlaylistItem.position <= last)
    await session.execute(update(PlaylistItem).where(*cond).values(position=PlaylistItem.position + by))


async def export_m3u8(session: AsyncSession, user_id: int, playlist_id: int, roots: Sequence[Path],
                      ) -> tuple[str, str]:
    """The playlist as M3U8 text, each path relative to its media folder (so the file works wherever the
    same folders are, and shows nothing of the server's layout)."""
    pl = await readable(session, user_id, playlist_id)
    rows = await session.scalars(
        select(Media).join(PlaylistItem, PlaylistItem.media_id == Media.id)
        .where(PlaylistItem.playlist_id == pl.id, Media.deleted_at.is_(None))
        .order_by(PlaylistItem.position, PlaylistItem.id))
    entries = [m3u.Entry(portable_path(m.path, roots), m.artist, m.title, m.duration_s) for m in rows]
    return pl.name, m3u.write(pl.name, entries)


async def edit_items(session: AsyncSession, user_id: int, playlist_id: int, add: Sequence[int],
                     remove_at: Sequence[int] = (), replace: bool = False) -> None:
    """Several item changes in one transaction (a Subsonic app's updatePlaylist or createPlaylist): remove
    the items at these positions (as readers number them), or all of them with `replace`, then append
    `add` in order. Nothing changes when one item to add is gone or a position is out of range."""
    pl = await _editing(session, user_id, playlist_id)
    ids = list(await session.scalars(select(PlaylistItem.id).where(PlaylistItem.playlist_id == pl.id)
                                     .order_by(PlaylistItem.position, PlaylistItem.id)))
    bad = [i for i in remove_at if not 0 <= i < len(ids)]
    if bad:
        raise InvalidInput("songIndexToRemove", f"no item at position {bad[0]}")
    for media_id in set(add):
        await visible_media(session, media_id)
    gone = set(ids) if replace else {ids[i] for i in remove_at}
    kept = [i for i in ids if i not in gone]
    if len(kept) + len(add) > MAX_ITEMS:
        raise Conflict(f"a playlist holds at most {MAX_ITEMS} items")
    if gone:
        await session.execute(sql_delete(PlaylistItem).where(PlaylistItem.id.in_(sorted(gone))))
    if kept:
        await session.execute(update(PlaylistItem), [{"id": i, "position": n} for n, i in enumerate(kept)])
    session.add_all(PlaylistItem(playlist_id=pl.id, media_id=m, position=len(kept) + n) for n, m in enumerate(add))
    await session.commit()
