"""The library listing behind `GET /api/v1/media`: filters, sorts, one page and the total.

A plain listing (no search; nothing of the caller's own, likes or plays, in its filter or its order) costs
the same at page 1,500 as at page 1, and neither reads the whole library:

- Its total, and how many of its items have no sort key, are counted once per library generation and
  remembered by each process. The generation is a counter that every transaction writing `media` bumps
  (triggers, migration 0009), read by every request (in the statement that reads the page, once the
  listing is remembered): a scan, an edit or a delete in any process is seen by the next request in every
  process.
- Its pages are found by seeking (keyset pagination) through a partial index of (sort key, id) over the
  live items. The id at every STRIDE-th position of the order is remembered (by the first request that
  passes it); a page is read from the nearest one before it, so at most STRIDE index entries are skipped.
- Items without a sort key come last in either order, as before; they are a segment of their own in id
  order, so each segment is one range of the index, walked forwards or backwards, on both databases.
- The caller's state (likes, plays, resume point) is joined to the page's rows only.

A search, or a listing filtered or sorted by the caller's state, is one query with LIMIT/OFFSET and a count:
those change with every play, and a search is already narrow.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Engine,
    Select,
    Table,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.queries import count_rows
from medianest.library import search
from medianest.library.models import Media, MediaGeneration, UserMedia
from medianest.library.schemas import SortField
from medianest.library.service import dialect_of, with_state

SORT_COLUMNS: dict[str, Any] = {
    "title": Media.title, "artist": Media.artist, "album": Media.album, "added_at": Media.added_at,
    "duration": Media.duration_s, "play_count": func.coalesce(UserMedia.play_count, 0),
    "last_played_at": UserMedia.last_played_at,
    # Podcasts, newest episode first (genre=Podcast&sort=uploaded_at): a narrow listing, read with OFFSET.
    "uploaded_at": Media.uploaded_at,
}
# The sorts a plain listing seeks through an index (the ix_media_live_* indexes of migration 0009).
SEEK_COLUMNS: dict[str, Any] = {name: SORT_COLUMNS[name]
                                for name in ("title", "artist", "album", "added_at", "duration")}
# Positions remembered in each listing's order: a page skips fewer than this many index entries (~0.1 ms on
# SQLite), and a listing holds total/STRIDE ids.
STRIDE = 500
# Listings remembered per database per process (each filter, sort and order is one), least recently used
# forgotten first: a few hundred small objects at most.
PLANS = 256

Row = tuple[Media, UserMedia | None]
_ANCHOR = cast(Table, Media.__table__).alias("anchor")  # the row a seek starts at
_GENERATION = select(MediaGeneration.generation)


@dataclass(frozen=True)
class MediaQuery:
    kind: str | None = None
    liked: bool | None = None
    q: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    sort: SortField | None = None
    order: str | None = None

    @property
    def descending(self) -> bool:
        default_desc = self.sort in ("added_at", "play_count", "last_played_at", "uploaded_at")
        return self.order == "desc" or (self.order is None and default_desc)

    @property
    def plain(self) -> bool:
        """Nothing searched, nothing of the caller's in the filter or the order."""
        searched = self.q is not None and bool(self.q.strip())
        return not searched and self.liked is None and (self.sort or "title") in SEEK_COLUMNS


async def list_media(session: AsyncSession, user_id: int, query: MediaQuery, offset: int, limit: int,
                     ) -> tuple[list[Row], int]:
    """The `limit` items from `offset` on, each with `user_id`'s own state, and how many match in all."""
    if not query.plain:
        return await _joined(session, user_id, query, offset, limit)
    plans = _plans(session)
    plan = plans.remembered(query)
    if plan is not None:
        rows = await _remembered_page(session, user_id, query, plan, offset, limit)
        if rows is not None:
            return rows, plan.total
    plan = await plans.get(session, query)
    ids = await _page_ids(session, query, plan, offset, limit)
    if ids is None:  # the library changed under this request: answer as the plain query does
        return await _joined(session, user_id, query, offset, limit)
    if not ids:
        return [], plan.total
    stmt = with_state(user_id).where(Media.id.in_(ids)).order_by(*_ordering(query, None))
    return list((await session.execute(stmt)).all()), plan.total


async def _joined(session: AsyncSession, user_id: int, query: MediaQuery, offset: int, limit: int,
                  ) -> tuple[list[Row], int]:
    stmt, rank = _filtered(with_state(user_id), query, dialect_of(session))
    total = await count_rows(session, stmt)
    stmt = stmt.order_by(*_ordering(query, rank)).offset(offset).limit(limit)
    return list((await session.execute(stmt)).all()), total


def _filtered(stmt: Select[Any], query: MediaQuery, dialect: str) -> tuple[Select[Any], Any]:
    stmt = stmt.where(*_conditions(query))
    if query.liked is True:
        stmt = stmt.where(UserMedia.liked.is_(True))
    elif query.liked is False:
        stmt = stmt.where(func.coalesce(UserMedia.liked, False).is_(False))
    rank = None
    if query.q is not None and query.q.strip():
        stmt, rank = search.apply(stmt, dialect, query.q)
    return stmt, rank


def _conditions(query: MediaQuery) -> list[ColumnElement[bool]]:
    """The filters on the item's own columns (the live items only: with_state and the plans add that)."""
    return [column == value for column, value in ((Media.kind, query.kind), (Media.artist, query.artist),
                                                   (Media.album, query.album), (Media.genre, query.genre))
            if value is not None]


def _ordering(query: MediaQuery, rank: Any) -> list[Any]:
    if query.sort is None and rank is not None:
        return [rank, Media.id]
    column = SORT_COLUMNS[query.sort or "title"]
    ordered = column.desc().nulls_last() if query.descending else column.asc().nulls_last()
    return [ordered, Media.id.desc() if query.descending else Media.id]


# --- plans: a plain listing's total and remembered positions, for one generation of the library -----------

@dataclass
class _Plan:
    generation: int | None
    total: int
    nulls: int  # items without a sort key: the last `nulls` of the order
    # (in the segment without a key, block) -> the id at position block * STRIDE of that segment
    anchors: dict[tuple[bool, int], int] = field(default_factory=dict)


class _Plans:
    """One process's plans for one database, by listing."""

    def __init__(self) -> None:
        self._plans: OrderedDict[tuple[Any, ...], _Plan] = OrderedDict()

    def remembered(self, query: MediaQuery) -> _Plan | None:
        """The listing's plan as an earlier request left it: current only if its generation still is."""
        return self._plans.get(_key(query))

    async def get(self, session: AsyncSession, query: MediaQuery) -> _Plan:
        """The listing's plan for the current generation."""
        # Read before anything it covers: a write committed in between makes what follows newer than
        # the generation it is filed under, never older, and that generation is never current again.
        generation = await session.scalar(_GENERATION)
        key = _key(query)
        plan = self._plans.get(key)
        if plan is None or plan.generation is None or plan.generation != generation:
            plan = await _count(session, query, generation)
            self._plans[key] = plan
        self._plans.move_to_end(key)
        while len(self._plans) > PLANS:
            self._plans.popitem(last=False)
        return plan


def _key(query: MediaQuery) -> tuple[Any, ...]:
    return query.kind, query.artist, query.album, query.genre, query.sort or "title", query.descending


# Each engine (one per database per process) has its own plans, gone with it: two databases in one
# process (tests, a migration beside a server) never share them.
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, _Plans] = weakref.WeakKeyDictionary()


def _plans(session: AsyncSession) -> _Plans:
    engine = session.get_bind().engine
    plans = _BY_ENGINE.get(engine)
    if plans is None:
        plans = _BY_ENGINE[engine] = _Plans()
    return plans


async def _count(session: AsyncSession, query: MediaQuery, generation: int | None) -> _Plan:
    # Two counts, not count(*) and count(column) in one: that one needs the column, and SQLite reads it
    # from each row instead of from the column's index (~20x slower at 100k items).
    live = select(func.count()).select_from(Media).where(Media.deleted_at.is_(None), *_conditions(query))
    total = await session.scalar(live) or 0
    column = SEEK_COLUMNS[query.sort or "title"]
    nulls = (await session.scalar(live.where(column.is_(None))) or 0) if column.nullable else 0
    return _Plan(generation, total, nulls)


# --- seeking -------------------------------------------------------------------------------------------

async def _remembered_page(session: AsyncSession, user_id: int, query: MediaQuery, plan: _Plan, offset: int,
                           limit: int) -> list[Row] | None:
    """The page in one statement that also reads the generation (one snapshot: the rows and the generation
    agree), when the plan holds the position its block starts at and the page lies in one segment; None
    when the plan is not current or the page needs more (then the plan is made current, and the page read
    as it says)."""
    if plan.generation is None:
        return None
    keyed = plan.total - plan.nulls
    end = min(offset + limit, plan.total)
    if offset >= end:
        return [] if await session.scalar(_GENERATION) == plan.generation else None
    nulls = offset >= keyed
    if not nulls and end > keyed:
        return None
    block, within = divmod(offset - keyed if nulls else offset, STRIDE)
    if block and (nulls, block) not in plan.anchors:
        return None
    ids = _segment(session, query, nulls, plan.anchors.get((nulls, block))).offset(within).limit(end - offset)
    stmt = (with_state(user_id).add_columns(_GENERATION.scalar_subquery())
            .where(_among(ids, dialect_of(session))).order_by(*_ordering(query, None)))
    rows = (await session.execute(stmt)).all()
    if len(rows) != end - offset or rows[0][2] != plan.generation:
        return None
    return [(media, state) for media, state, _ in rows]


def _among(ids: Select[Any] | CompoundSelect[Any], dialect: str) -> ColumnElement[bool]:
    """Media.id is one of the page's `ids`, read by primary key.

    On PostgreSQL as `id = ANY(<the page's ids as one array>)`: the page is read once and its rows fetched by
    primary key. `id IN (SELECT ...)` lets the planner pick a hash join over every live item (with
    statistics) or, before the table is first analyzed (a scan just filled it), a nested loop that runs
    the page's query again for each item (200 ms for one page of 1,234 items). SQLite runs an IN subquery
    once and probes the rowid with it."""
    page = ids.subquery()
    if dialect == "postgresql":
        ids_array = select(func.array_agg(page.c.id)).scalar_subquery().cast(postgresql.ARRAY(Media.id.type))
        return Media.id == func.any(ids_array)  # the cast: `ANY((SELECT ...))` would read the query's rows
    return Media.id.in_(select(page.c.id))


async def _page_ids(session: AsyncSession, query: MediaQuery, plan: _Plan, offset: int, limit: int,
                    ) -> list[int] | None:
    """The ids of the page, in order; None when fewer came back than the plan promised (a write landed
    after the generation was read)."""
    keyed = plan.total - plan.nulls
    end = min(offset + limit, plan.total)
    if offset >= end:
        return []
    ids: list[int] = []
    if offset < keyed:
        ids += await _seek(session, query, plan, False, offset, min(end, keyed) - offset)
    if end > keyed:
        start = max(offset, keyed) - keyed
        ids += await _seek(session, query, plan, True, start, end - keyed - start)
    return ids if len(ids) == end - offset else None


async def _seek(session: AsyncSession, query: MediaQuery, plan: _Plan, nulls: bool, offset: int, limit: int,
                ) -> list[int]:
    """`limit` ids from `offset` in one segment (the items with a sort key, or those without), read from
    the nearest remembered position at or before it; the position of `offset`'s block is remembered."""
    block, within = divmod(offset, STRIDE)
    known = max((b for n, b in plan.anchors if n == nulls and b <= block), default=0)
    stmt = _segment(session, query, nulls, plan.anchors.get((nulls, known)))
    if known == block:
        return list(await session.scalars(stmt.offset(within).limit(limit)))
    ids = list(await session.scalars(stmt.offset((block - known) * STRIDE).limit(within + limit)))
    if ids:
        plan.anchors[(nulls, block)] = ids[0]
    return ids[within:]


def _segment(session: AsyncSession, query: MediaQuery, nulls: bool, anchor: int | None,
             ) -> Select[Any] | CompoundSelect[Any]:
    """The ids of one segment of the listing (its items with a sort key, or those without) in order."""
    column = SEEK_COLUMNS[query.sort or "title"]
    where = [Media.deleted_at.is_(None), *_conditions(query), column.is_(None) if nulls else column.is_not(None)]
    return _from(where, None if nulls else column, anchor, query.descending, dialect_of(session))


def _from(where: list[ColumnElement[bool]], column: Any, anchor: int | None, descending: bool, dialect: str,
          ) -> Select[Any] | CompoundSelect[Any]:
    """The ids of a segment in order (by `column` and id, or by id alone when `column` is None), from the
    item `anchor` on, or from the segment's start.

    The anchor's key is read from its row in the same statement, never bound from Python: it compares as
    the database stored it (text in its collation, a timestamp as SQLite keeps it)."""
    def ordered(*keys: Any) -> list[Any]:
        return [k.desc() if descending else k.asc() for k in keys]

    if column is None:
        stmt = select(Media.id).where(*where)
        if anchor is not None:
            stmt = stmt.where(Media.id <= anchor if descending else Media.id >= anchor)
        return stmt.order_by(*ordered(Media.id))
    stmt = select(Media.id).where(*where).order_by(*ordered(column, Media.id))
    if anchor is None:
        return stmt
    key = select(_ANCHOR.c[column.key]).where(_ANCHOR.c.id == anchor).scalar_subquery()
    if dialect == "sqlite":
        return _merged(where, column, key, anchor, descending)
    here, there = tuple_(column, Media.id), tuple_(key, literal(anchor))
    return stmt.where(here <= there if descending else here >= there)


def _merged(where: list[ColumnElement[bool]], column: Any, key: Any, anchor: int, descending: bool,
            ) -> CompoundSelect[Any]:
    """SQLite: the items with the anchor's key from its id on, then those past its key, two ranges of the
    index merged in order. SQLite seeks a row value (key, id) by the key alone when id is the rowid, and
    would read through every item tied with the anchor first (at 100,000 items of one duration, 5 ms)."""
    rows = select(Media.id, column.label("key")).where(*where)
    tied, past = (Media.id <= anchor, column < key) if descending else (Media.id >= anchor, column > key)
    merged = union_all(rows.where(column == key, tied), rows.where(past))
    keys = (merged.selected_columns.key, merged.selected_columns.id)
    return merged.order_by(*(k.desc() if descending else k.asc() for k in keys))
