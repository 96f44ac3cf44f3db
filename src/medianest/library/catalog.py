"""The catalog: albums and artists as the tags make them, kept in step with media.

An audio item belongs to the album named by its album artist (the album artist tag, else "Various
Artists" for a compilation, else its artist) and its album tag; disc numbers do not split an album.
Each album and artist has a key: a hash of its folded names, so it survives rescans, re-imports and a
move to another database, and Subsonic apps keep their stars and caches. Every write to media sets the
item's keys (`keys_of`) and then refreshes the albums it touched (`refresh`); a scan ends with a full
refresh, which also builds the catalog the first time.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import Table, case, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.library.models import KIND_AUDIO, Album, Artist, Media
from medianest.library.probe import fold

UNKNOWN_ARTIST, UNKNOWN_ALBUM, VARIOUS_ARTISTS = "[Unknown Artist]", "[Unknown Album]", "Various Artists"
# Sorting and the A-Z index skip these at the start of an artist's name ("The Beatles" under B), as
# Navidrome's and Jellyfin's defaults do.
ARTICLES = ("the ", "a ", "an ")
BATCH = 500  # rows per upsert statement: far below both databases' bind-parameter limits


def key(*names: str) -> str:
    """A stable id for names: case, Unicode form and runs of spaces do not matter (diacritics do: Björk
    and Bjork may be different people)."""
    text = "\x1f".join(" ".join(unicodedata.normalize("NFKC", n).casefold().split()) for n in names)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def album_artist_of(artist: str | None, album_artist: str | None, compilation: bool) -> str:
    return album_artist or (VARIOUS_ARTISTS if compilation else artist or UNKNOWN_ARTIST)


def keys_of(kind: str, artist: str | None, album: str | None, album_artist: str | None,
            compilation: bool) -> dict[str, str | None]:
    """The catalog columns of an item; videos belong to no album."""
    if kind != KIND_AUDIO:
        return {"album_key": None, "artist_key": None, "album_artist_key": None}
    by = album_artist_of(artist, album_artist, compilation)
    return {"album_key": key(by, album or UNKNOWN_ALBUM), "artist_key": key(artist or UNKNOWN_ARTIST),
            "album_artist_key": key(by)}


def sort_name(name: str, articles: bool = False) -> str:
    folded = fold(name).strip()
    if articles:
        for article in ARTICLES:
            if folded.startswith(article) and len(folded) > len(article):
                return folded[len(article):].lstrip()
    return folded


async def built(session: AsyncSession) -> bool:
    """Whether the catalog has been made (a scan that changed nothing then has nothing to refresh); False
    after an upgrade that added it, until a scan builds it."""
    if await session.scalar(select(Album.id).limit(1)) is not None:
        return True
    return await session.scalar(select(Media.id).where(Media.album_key.is_not(None), Media.deleted_at.is_(None))
                                .limit(1)) is None


async def refresh(session: AsyncSession, album_keys: Collection[str | None] | None = None) -> None:
    """Bring the albums (all of them when `album_keys` is None) and their artists in step with media.
    Upserts, never delete-then-insert: two processes refreshing one album at once both succeed."""
    keys = None if album_keys is None else sorted({k for k in album_keys if k})
    if keys == []:
        return
    old_artists = set(await session.scalars(select(Album.artist_key).where(Album.id.in_(keys)))) if keys else set()
    rows = [_album_row(r) for r in (await session.execute(_grouped_albums(keys))).all()]
    await _upsert(session, Album, rows)
    await session.execute(_orphans(Album, keys, Media.album_key))
    artists = None if keys is None else sorted(old_artists | {r["artist_key"] for r in rows})
    await _refresh_artists(session, artists)


def _grouped_albums(keys: Sequence[str] | None) -> Any:
    named = func.nullif(Media.album_artist, "")
    by = case((named.is_not(None), named), (Media.compilation.is_(True), VARIOUS_ARTISTS),
              else_=func.coalesce(Media.artist, UNKNOWN_ARTIST))
    stmt = (select(Media.album_key, func.min(func.coalesce(Media.album, UNKNOWN_ALBUM)), func.min(by),
                   func.min(Media.album_artist_key), func.max(Media.year), func.min(Media.genre), func.count(),
                   func.coalesce(func.sum(Media.duration_s), 0.0),
                   func.max(case((Media.compilation.is_(True), 1), else_=0)), func.min(Media.artwork),
                   func.min(Media.added_at), func.max(Media.added_at))
            .where(Media.deleted_at.is_(None), Media.album_key.is_not(None)).group_by(Media.album_key))
    return stmt if keys is None else stmt.where(Media.album_key.in_(keys))


def _album_row(r: Any) -> dict[str, Any]:
    album_key, name, artist, artist_key, year, genre, count, duration, compilation, art, first, last = r
    return {"id": album_key, "name": name, "sort_name": sort_name(name), "artist": artist, "artist_key": artist_key,
            "year": year, "genre": genre, "song_count": count, "duration_s": float(duration or 0),
            "compilation": bool(compilation), "artwork": art, "created_at": first, "added_at": last}


async def _refresh_artists(session: AsyncSession, keys: Sequence[str] | None) -> None:
    if keys == []:
        return
    stmt = (select(Album.artist_key, func.min(Album.artist), func.count(), func.sum(Album.song_count),
                   func.min(Album.artwork)).group_by(Album.artist_key))
    if keys is not None:
        stmt = stmt.where(Album.artist_key.in_(keys))
    rows = [{"id": k, "name": name, "sort_name": sort_name(name, articles=True), "album_count": albums,
             "song_count": songs or 0, "artwork": art} for k, name, albums, songs, art in await session.execute(stmt)]
    await _upsert(session, Artist, rows)
    await session.execute(_orphans(Artist, keys, Album.artist_key))


def _orphans(model: type[Album] | type[Artist], keys: Sequence[str] | None, source: Any) -> Any:
    """Delete the rows (among `keys`, or all) nothing refers to any more."""
    alive = select(source).where(source == model.id)
    if model is Album:
        alive = alive.where(Media.deleted_at.is_(None))
    stmt = delete(model).where(~exists(alive))
    return stmt if keys is None else stmt.where(model.id.in_(keys))


async def _upsert(session: AsyncSession, model: type[Album] | type[Artist], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = cast(Table, model.__table__)
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=["id"],
                                      set_={c: stmt.excluded[c] for c in rows[0] if c != "id"})
    for start in range(0, len(rows), BATCH):
        await session.execute(stmt, rows[start:start + BATCH])
