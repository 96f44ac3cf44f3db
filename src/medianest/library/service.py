"""Library queries and edits: get, edit tags, soft delete and purge, artists, albums (the listing: listing.py)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.audit.service import record
from medianest.db.base import utcnow
from medianest.db.queries import count_rows
from medianest.errors import NotFound
from medianest.library import artwork, catalog, covers
from medianest.library.artwork import Artwork
from medianest.library.folders import prefix, raise_if_root_offline
from medianest.library.models import FOLDER_OFFLINE, LibraryFolder, Media, UnreadableFile, UserMedia
from medianest.library.probe import search_text
from medianest.library.schemas import (
    AlbumOut,
    FolderOut,
    MediaPatch,
    NameCount,
    OfflineFolderOut,
    UnreadableOut,
)
from medianest.library.walk import inside
from medianest.storage.objects import Bucket, is_object


def with_state(user_id: int) -> Select:
    """Visible media with the given user's own state (None where the user has none)."""
    own = and_(UserMedia.media_id == Media.id, UserMedia.user_id == user_id)
    return select(Media, UserMedia).outerjoin(UserMedia, own).where(Media.deleted_at.is_(None))


async def get_media(session: AsyncSession, user_id: int, media_id: int) -> tuple[Media, UserMedia | None]:
    row = (await session.execute(with_state(user_id).where(Media.id == media_id))).first()
    if row is None:
        raise NotFound("media", media_id)
    media, state = row
    return media, state


async def visible_media(session: AsyncSession, media_id: int) -> Media:
    media = await session.get(Media, media_id)
    if media is None or media.deleted_at is not None:
        raise NotFound("media", media_id)
    return media


async def patch_media(session: AsyncSession, actor: User, media_id: int, patch: MediaPatch) -> None:
    media = await visible_media(session, media_id)
    changes = patch.model_dump(exclude_unset=True)
    record(session, "media.update", actor, target=f"media:{media_id}", **changes)
    before = media.album_key
    for field, value in changes.items():
        if field == "title" and not value:
            continue
        setattr(media, field, value.strip() if isinstance(value, str) else value)
    media.search_text = search_text(media.title, media.artist, media.album, media.album_artist, media.genre)
    for column, key in catalog.keys_of(media.kind, media.artist, media.album, media.album_artist,
                                       media.compilation).items():
        setattr(media, column, key)
    await session.flush()
    await catalog.refresh(session, [before, media.album_key])
    await session.commit()


async def delete_media(session: AsyncSession, actor: User, media_id: int, purge: bool, images: Artwork) -> None:
    """Soft delete hides the item (a rescan will not bring it back); purge removes file, artwork and row.
    An object in a bucket goes before the row does: if the bucket cannot be reached, nothing changes
    (`Unavailable`), where a row gone first would leave the object for the next scan to bring back."""
    media = await session.get(Media, media_id)
    if media is None or (media.deleted_at is not None and not purge):
        raise NotFound("media", media_id)
    record(session, "media.purge" if purge else "media.delete", actor, target=f"media:{media_id}",
           title=media.title, path=media.path if purge else None)
    album = media.album_key
    if not purge:
        media.deleted_at = utcnow()
        await session.flush()
        await catalog.refresh(session, [album])
        await session.commit()
        return
    path, art = media.path, media.artwork
    if is_object(path):
        await _remove_object(path, images.bucket)
    await session.delete(media)
    await session.flush()
    await catalog.refresh(session, [album])
    await session.commit()
    if not is_object(path):
        _unlink(path)
    if art and not await session.scalar(select(Media.id).where(Media.artwork == art).limit(1)):
        cached = artwork.path_of(images.cache, art)
        if cached:
            _unlink(str(cached))
            covers.forget(images.cache, art)


async def _remove_object(path: str, bucket: Bucket | None) -> None:
    key = bucket.key_of(path) if bucket is not None else None
    if bucket is None or key is None:  # its bucket is no longer configured: only the row can go
        return
    await bucket.delete(key)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def artists(session: AsyncSession, offset: int, limit: int, q: str | None) -> tuple[list[NameCount], int]:
    stmt = select(Media.artist, func.count()).where(Media.deleted_at.is_(None), Media.artist.is_not(None))
    if q:
        stmt = stmt.where(Media.artist.ilike(f"%{_like(q)}%", escape="\\"))
    stmt = stmt.group_by(Media.artist)
    total = await count_rows(session, stmt)
    rows = await session.execute(stmt.order_by(Media.artist).offset(offset).limit(limit))
    return [NameCount(name=name, media_count=count) for name, count in rows], total


async def albums(session: AsyncSession, offset: int, limit: int, artist: str | None, genre: str | None = None,
                 ) -> tuple[list[AlbumOut], int]:
    """Albums by name and artist, with counts; `genre` narrows them to its items' albums (genre=Podcast:
    the shows)."""
    who = func.coalesce(Media.album_artist, Media.artist)
    stmt = (select(Media.album, func.min(who), func.max(Media.year), func.count(), func.sum(Media.duration_s))
            .where(Media.deleted_at.is_(None), Media.album.is_not(None)))
    if artist:
        stmt = stmt.where(who == artist)
    if genre:
        stmt = stmt.where(Media.genre == genre)
    stmt = stmt.group_by(Media.album, who)
    total = await count_rows(session, stmt)
    rows = await session.execute(stmt.order_by(Media.album).offset(offset).limit(limit))
    return [AlbumOut(name=a, artist=w, year=y, media_count=c, duration_s=d) for a, w, y, c, d in rows], total


async def folders(session: AsyncSession, roots: list[Path]) -> list[FolderOut]:
    """Each media folder as the last scan found it (online or offline, and why), with its items, the
    offline folders inside it, and the files that could not be read."""
    states = {row.path: row for row in (await session.scalars(select(LibraryFolder))).all()}
    return [await _folder(session, root, states) for root in roots]


async def _folder(session: AsyncSession, root: Path, states: dict[str, LibraryFolder]) -> FolderOut:
    start = prefix(str(root))
    state = states.get(str(root))
    inner = [row for path, row in sorted(states.items()) if path.startswith(start) and row.status == FOLDER_OFFLINE]
    offline = [str(root)] if state is not None and state.status == FOLDER_OFFLINE else [row.path for row in inner]
    count = await _count_under(session, [str(root)])
    unavailable = await _count_under(session, offline) if offline else 0
    bad = await session.execute(select(UnreadableFile.path, UnreadableFile.reason).where(
        UnreadableFile.path.startswith(start, autoescape=True)).order_by(UnreadableFile.path).limit(200))
    return FolderOut(
        path=str(root), exists=root.is_dir(), status=state.status if state is not None else "unknown",
        reason=state.reason if state is not None else None,
        offline_since=state.offline_since if state is not None else None,
        checked_at=state.checked_at if state is not None else None,
        media_count=count, unavailable_count=unavailable,
        offline_inside=[OfflineFolderOut(path=row.path, reason=row.reason or "") for row in inner],
        unreadable=[UnreadableOut(path=p, reason=r) for p, r in bad])


async def _count_under(session: AsyncSession, folders: list[str]) -> int:
    under = or_(*(Media.path.startswith(prefix(f), autoescape=True) for f in folders))
    count = await session.scalar(select(func.count()).select_from(Media).where(Media.deleted_at.is_(None), under))
    return count or 0


def servable_path(media: Media, roots: list[Path]) -> str:
    """The file's real path, only if it is still inside a configured media folder (else not found, or
    `Unavailable` when its media folder is offline now: a share not mounted, a disk unplugged)."""
    real = os.path.realpath(media.path)
    if not inside(real, [str(r) for r in roots]) or not os.path.isfile(real):
        raise_if_root_offline(media, roots)
        raise NotFound("media", media.id)
    return real


def dialect_of(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
