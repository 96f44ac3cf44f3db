"""Browsing the catalog: albums by the orders music apps list them in, an artist's albums, an album's
tracks, genres, random and starred picks, and paging through every track (a Subsonic app's sync).

Lists that depend on the user (frequent, recent, starred, rated) read their state; the rest read the
catalog tables alone. Each returns rows; the interfaces shape them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Result, Row, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.errors import InvalidInput, NotFound
from medianest.library import search
from medianest.library.catalog import sort_name
from medianest.library.models import (
    CATALOG_ALBUM,
    KIND_AUDIO,
    KIND_VIDEO,
    Album,
    Artist,
    Media,
    UserCatalog,
    UserMedia,
)
from medianest.library.service import dialect_of, with_state

ItemRow = tuple[Media, UserMedia | None]
# A sync page's song: plain rows (no ORM objects: 500 of them a page, for 100,000 tracks), the item's columns
# a song needs and the user's state, the same row twice or the row and None where the user has no state.
SongRow = tuple[Media | Row[Any], UserMedia | Row[Any] | None]
SONG_COLUMNS = (Media.id, Media.kind, Media.title, Media.artist, Media.album, Media.album_artist, Media.track,
                Media.disc, Media.year, Media.genre, Media.compilation, Media.album_key, Media.artist_key,
                Media.album_artist_key, Media.duration_s, Media.bitrate, Media.width, Media.height, Media.mime,
                Media.path, Media.size, Media.artwork, Media.added_at)
STATE_COLUMNS = (UserMedia.user_id.label("state_of"), UserMedia.liked, UserMedia.liked_at, UserMedia.play_count,
                 UserMedia.last_played_at, UserMedia.position_s, UserMedia.rating)
ALBUM_LISTS = ("random", "newest", "highest", "frequent", "recent", "alphabeticalByName", "alphabeticalByArtist",
               "starred", "byYear", "byGenre")


@dataclass(frozen=True)
class AlbumFilter:
    year_from: int | None = None
    year_to: int | None = None
    genre: str | None = None


async def album_list(session: AsyncSession, user_id: int, kind: str, offset: int, size: int,
                     where: AlbumFilter) -> list[Album]:
    """One page of albums in one of the orders of getAlbumList2 (ALBUM_LISTS)."""
    stmt = _album_order(select(Album), user_id, kind, where)
    return list((await session.scalars(stmt.offset(offset).limit(size))).all())


def _album_order(stmt: Select[Any], user_id: int, kind: str, where: AlbumFilter) -> Select[Any]:
    if kind == "alphabeticalByName":
        return stmt.order_by(Album.sort_name, Album.id)
    if kind == "alphabeticalByArtist":
        return stmt.join(Artist, Artist.id == Album.artist_key).order_by(Artist.sort_name, Album.year.nulls_first(),
                                                                       Album.sort_name, Album.id)
    if kind == "newest":
        return stmt.order_by(Album.added_at.desc(), Album.id)
    if kind == "random":
        return stmt.order_by(func.random())
    if kind == "byYear":
        return _by_year(stmt, where)
    if kind == "byGenre":
        if not where.genre:
            raise InvalidInput("genre", "byGenre needs a genre")
        return stmt.where(Album.genre == where.genre).order_by(Album.sort_name, Album.id)
    if kind in ("frequent", "recent"):
        return _by_plays(stmt, user_id, kind)
    if kind in ("starred", "highest"):
        return _by_annotation(stmt, user_id, kind)
    raise InvalidInput("type", f"unknown list type {kind[:40]!r}; one of {', '.join(ALBUM_LISTS)}")


def _by_year(stmt: Select[Any], where: AlbumFilter) -> Select[Any]:
    if where.year_from is None or where.year_to is None:
        raise InvalidInput("fromYear", "byYear needs fromYear and toYear")
    low, high = sorted((where.year_from, where.year_to))
    stmt = stmt.where(Album.year.between(low, high))
    # fromYear after toYear lists newest first (the spec's example: 2000 to 1990).
    descending = where.year_from > where.year_to
    return stmt.order_by(Album.year.desc() if descending else Album.year, Album.sort_name, Album.id)


def _by_plays(stmt: Select[Any], user_id: int, kind: str) -> Select[Any]:
    plays = (select(Media.album_key.label("key"), func.sum(UserMedia.play_count).label("plays"),
                    func.max(UserMedia.last_played_at).label("last"))
             .join(UserMedia, UserMedia.media_id == Media.id)
             .where(UserMedia.user_id == user_id, UserMedia.play_count > 0, Media.album_key.is_not(None))
             .group_by(Media.album_key).subquery())
    stmt = stmt.join(plays, plays.c.key == Album.id)
    order = plays.c.plays.desc() if kind == "frequent" else plays.c.last.desc()
    return stmt.order_by(order, Album.id)


def _by_annotation(stmt: Select[Any], user_id: int, kind: str) -> Select[Any]:
    mine = and_(UserCatalog.user_id == user_id, UserCatalog.kind == CATALOG_ALBUM, UserCatalog.key == Album.id)
    stmt = stmt.join(UserCatalog, mine)
    if kind == "starred":
        return stmt.where(UserCatalog.starred_at.is_not(None)).order_by(Album.sort_name, Album.id)
    return stmt.where(UserCatalog.rating > 0).order_by(UserCatalog.rating.desc(), Album.sort_name, Album.id)


async def album_states(session: AsyncSession, user_id: int, kind: str, keys: Sequence[str],
                       ) -> dict[str, UserCatalog]:
    if not keys:
        return {}
    rows = await session.scalars(select(UserCatalog).where(UserCatalog.user_id == user_id, UserCatalog.kind == kind,
                                                           UserCatalog.key.in_(list(keys))))
    return {row.key: row for row in rows if row.key}


async def album_plays(session: AsyncSession, user_id: int, keys: Sequence[str],
                      ) -> dict[str, tuple[int, datetime | None]]:
    """The user's plays of each album's tracks: how many, and the latest."""
    if not keys:
        return {}
    rows = await session.execute(
        select(Media.album_key, func.sum(UserMedia.play_count), func.max(UserMedia.last_played_at))
        .join(UserMedia, UserMedia.media_id == Media.id)
        .where(UserMedia.user_id == user_id, Media.album_key.in_(list(keys))).group_by(Media.album_key))
    return {k: (int(n or 0), last) for k, n, last in rows if k}


async def album(session: AsyncSession, album_key: str) -> Album:
    row = await session.get(Album, album_key)
    if row is None:
        raise NotFound("album", album_key)
    return row


async def album_tracks(session: AsyncSession, user_id: int, album_key: str) -> list[ItemRow]:
    stmt = with_state(user_id).where(Media.album_key == album_key).order_by(
        func.coalesce(Media.disc, 1), func.coalesce(Media.track, 0), Media.title, Media.id)
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


async def artists(session: AsyncSession) -> list[Artist]:
    return list((await session.scalars(select(Artist).order_by(Artist.sort_name, Artist.id))).all())


async def artist(session: AsyncSession, artist_key: str) -> tuple[Artist | None, str]:
    """The album artist, or (None, name) for an artist who only appears on tracks."""
    row = await session.get(Artist, artist_key)
    if row is not None:
        return row, row.name
    name = await session.scalar(select(Media.artist).where(Media.artist_key == artist_key,
                                                           Media.deleted_at.is_(None)).limit(1))
    if name is None:
        raise NotFound("artist", artist_key)
    return None, name


async def artist_albums(session: AsyncSession, artist_key: str) -> list[Album]:
    """The artist's own albums, else the albums they appear on."""
    own = await session.scalars(select(Album).where(Album.artist_key == artist_key).order_by(
        Album.year.nulls_first(), Album.sort_name, Album.id))
    albums = list(own.all())
    if albums:
        return albums
    on = select(Media.album_key).where(Media.artist_key == artist_key, Media.deleted_at.is_(None))
    return list((await session.scalars(select(Album).where(Album.id.in_(on)).order_by(Album.sort_name))).all())


async def artist_tracks(session: AsyncSession, user_id: int, artist_key: str, count: int) -> list[ItemRow]:
    """The artist's tracks, most played (by anyone) first: "top songs" from local data."""
    plays = (select(UserMedia.media_id, func.sum(UserMedia.play_count).label("n"))
             .group_by(UserMedia.media_id).subquery())
    stmt = (with_state(user_id).outerjoin(plays, plays.c.media_id == Media.id)
            .where(or_(Media.artist_key == artist_key, Media.album_artist_key == artist_key))
            .order_by(func.coalesce(plays.c.n, 0).desc(), Media.title, Media.id).limit(count))
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


async def artist_genres(session: AsyncSession, artist_key: str) -> list[str]:
    rows = await session.scalars(select(Media.genre).where(
        or_(Media.artist_key == artist_key, Media.album_artist_key == artist_key), Media.genre.is_not(None),
        Media.deleted_at.is_(None)).distinct().limit(20))
    return [g for g in rows if g]


async def similar_tracks(session: AsyncSession, user_id: int, artist_key: str, genres: Sequence[str],
                         count: int) -> list[ItemRow]:
    """Tracks like an artist's, from what the library knows: the same artist's and the same genres'."""
    stmt = (with_state(user_id).where(Media.kind == KIND_AUDIO, or_(
        Media.artist_key == artist_key, Media.album_artist_key == artist_key,
        Media.genre.in_(list(genres)) if genres else Media.id.is_(None)))
        .order_by(func.random()).limit(count))
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


async def genres(session: AsyncSession) -> list[tuple[str, int, int]]:
    """Each genre with its number of tracks and of albums."""
    rows = await session.execute(
        select(Media.genre, func.count(), func.count(func.distinct(Media.album_key)))
        .where(Media.deleted_at.is_(None), Media.kind == KIND_AUDIO, Media.genre.is_not(None))
        .group_by(Media.genre).order_by(Media.genre))
    return [(g, n, a) for g, n, a in rows if g]


async def genre_tracks(session: AsyncSession, user_id: int, genre: str, offset: int, count: int) -> list[ItemRow]:
    stmt = (with_state(user_id).where(Media.kind == KIND_AUDIO, Media.genre == genre)
            .order_by(Media.id).offset(offset).limit(count))
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


async def random_tracks(session: AsyncSession, user_id: int, count: int, where: AlbumFilter) -> list[ItemRow]:
    stmt = with_state(user_id).where(Media.kind == KIND_AUDIO)
    if where.genre:
        stmt = stmt.where(Media.genre == where.genre)
    if where.year_from is not None:
        stmt = stmt.where(Media.year >= where.year_from)
    if where.year_to is not None:
        stmt = stmt.where(Media.year <= where.year_to)
    return [(m, s) for m, s in (await session.execute(stmt.order_by(func.random()).limit(count))).all()]


async def starred_tracks(session: AsyncSession, user_id: int) -> list[ItemRow]:
    stmt = with_state(user_id).where(UserMedia.liked.is_(True), Media.kind == KIND_AUDIO).order_by(
        UserMedia.liked_at.desc(), Media.id)
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


async def starred_catalog(session: AsyncSession, user_id: int, kind: str) -> list[tuple[Any, UserCatalog]]:
    model: Any = Album if kind == CATALOG_ALBUM else Artist
    stmt = (select(model, UserCatalog).join(UserCatalog, and_(
        UserCatalog.user_id == user_id, UserCatalog.kind == kind, UserCatalog.key == model.id))
        .where(UserCatalog.starred_at.is_not(None)).order_by(UserCatalog.starred_at.desc()))
    return [(row, state) for row, state in (await session.execute(stmt)).all()]


async def items(session: AsyncSession, user_id: int, ids: Sequence[int], kind: str | None = None) -> list[ItemRow]:
    """These items, in the order asked, without the ones that are gone."""
    if not ids:
        return []
    stmt = with_state(user_id).where(Media.id.in_(list(ids)))
    if kind is not None:
        stmt = stmt.where(Media.kind == kind)
    found = {m.id: (m, s) for m, s in (await session.execute(stmt)).all()}
    return [found[i] for i in ids if i in found]


async def videos(session: AsyncSession, user_id: int) -> list[ItemRow]:
    stmt = with_state(user_id).where(Media.kind == KIND_VIDEO).order_by(Media.title, Media.id)
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


# --- search ----------------------------------------------------------------------------------------


async def search_artists(session: AsyncSession, query: str, offset: int, count: int) -> list[Artist]:
    stmt = select(Artist).order_by(Artist.sort_name, Artist.id)
    return list((await session.scalars(_named(stmt, Artist.sort_name, query).offset(offset).limit(count))).all())


async def search_albums(session: AsyncSession, query: str, offset: int, count: int) -> list[Album]:
    stmt = select(Album).order_by(Album.sort_name, Album.id)
    return list((await session.scalars(_named(stmt, Album.sort_name, query).offset(offset).limit(count))).all())


def _named(stmt: Select[Any], column: Any, query: str) -> Select[Any]:
    """Names holding every word of the query (an empty query: all of them)."""
    for word in search.terms(query):
        stmt = stmt.where(column.contains(sort_name(word), autoescape=True))
    return stmt


async def search_tracks(session: AsyncSession, cursors: Cursors, user_id: int, query: str, offset: int,
                        count: int) -> Sequence[SongRow]:
    """Tracks matching the query, best first; an empty query pages through every track (`everything`)."""
    if not search.terms(query):
        return await everything(session, cursors, user_id, offset, count)
    stmt, rank = search.apply(with_state(user_id).where(Media.kind == KIND_AUDIO), dialect_of(session), query)
    stmt = stmt.order_by(rank, Media.id).offset(offset).limit(count)
    return [(m, s) for m, s in (await session.execute(stmt)).all()]


# Where each page of the everything-list ended, by offset: apps sync a library by asking for offset 0,
# 500, 1000, ... and each next page starts after the id the last one ended on (keyset paging: the last
# page costs what the first does, where OFFSET would walk every row before it). Kept a while, per process.
# An offset not found here (another process served the page before: with several workers, most pages) is
# counted on the id index from the nearest page end this process knows below it - one page back, not the
# whole library.
CURSOR_TTL_S = 600.0
CURSORS_MAX = 4096


class Cursors:
    """The process's page ends (one per database: the composition root makes it with the engine)."""

    def __init__(self) -> None:
        self._ends: dict[int, tuple[float, int]] = {}

    def get(self, offset: int) -> int | None:
        hit = self._ends.get(offset)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def below(self, offset: int) -> tuple[int, int]:
        """The nearest page end known before `offset`, as (offset, id); (0, 0), the start, when none."""
        now = time.monotonic()
        known = [(o, end) for o, (expires, end) in self._ends.items() if o < offset and expires > now]
        return max(known, default=(0, 0))

    def put(self, offset: int, last_id: int) -> None:
        if len(self._ends) >= CURSORS_MAX:
            self._ends.clear()
        self._ends[offset] = (time.monotonic() + CURSOR_TTL_S, last_id)


async def everything(session: AsyncSession, cursors: Cursors, user_id: int, offset: int, count: int,
                     ) -> list[SongRow]:
    after = await _cursor(session, cursors, offset)
    if after is None:
        return []
    own = and_(UserMedia.media_id == Media.id, UserMedia.user_id == user_id)
    stmt = (select(*SONG_COLUMNS, *STATE_COLUMNS).outerjoin(UserMedia, own)
            .where(Media.deleted_at.is_(None), Media.kind == KIND_AUDIO, Media.id > after)
            .order_by(Media.id).limit(count))
    result: Result[Any] = await session.execute(stmt)
    rows: list[SongRow] = [(r, r if r.state_of is not None else None) for r in result.all()]
    if rows:
        cursors.put(offset + len(rows), rows[-1][0].id)
    return rows


async def _cursor(session: AsyncSession, cursors: Cursors, offset: int) -> int | None:
    """The id the page at `offset` starts after (0 for the first page; None past the end)."""
    if offset <= 0:
        return 0
    known = cursors.get(offset)
    if known is not None:
        return known
    base, after = cursors.below(offset)
    ids = (select(Media.id).where(Media.deleted_at.is_(None), Media.kind == KIND_AUDIO, Media.id > after)
           .order_by(Media.id).offset(offset - base - 1).limit(1))
    found: int | None = await session.scalar(ids)
    return found
