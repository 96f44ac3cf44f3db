"""Query helpers shared by the services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, Table, delete, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from medianest.db.engine import SessionFactory

# Rows one batch of a long delete removes, in one transaction: a few milliseconds of SQLite's write lock
# (which is the whole database's) even with the cascades and FTS triggers behind each row.
BATCH_ROWS = 500


async def count_rows(session: AsyncSession, stmt: Select) -> int:
    """How many rows `stmt` returns (for a page's `total`), ignoring its ORDER BY."""
    return await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


async def refresh_statistics(session: AsyncSession) -> None:
    """Let the query planner know the tables as they now are (after a scan wrote many rows).

    SQLite keeps no statistics unless told to: without them it reads "the audio items after id N in id
    order" through the (kind, title) index and sorts all of them (150 ms a page at 100,000 items, 3 ms
    with them). PostgreSQL's autovacuum analyzes within a minute or so of a big change, and a listing
    in that minute could be planned for an empty table. A full ANALYZE at 100,000 items takes ~0.2 s."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("ANALYZE"))
    else:
        await session.execute(text("ANALYZE media, user_media, albums, artists"))


async def delete_in_batches(sessions: SessionFactory, table: Table, *where: ColumnElement[bool],
                            batch: int = BATCH_ROWS) -> int:
    """Delete the rows of `table` matching `where`, `batch` at a time, each batch committed on its own;
    how many went.

    On SQLite one writer holds the whole database until it commits, so one DELETE of a year of history
    (or the cascade behind one user) makes every other user's write wait for all of it; between batches
    they get their turn. The whole is not atomic: use it where a half-done delete is still a correct
    state (old history; the rows of something being removed, deleted before the row itself)."""
    key = tuple_(*table.primary_key.columns)
    chosen = select(*table.primary_key.columns).where(*where).limit(batch)
    removed = 0
    while True:
        async with sessions() as session:
            result = await session.execute(delete(table).where(key.in_(chosen)))
            await session.commit()
        count = int(result.rowcount)  # type: ignore[attr-defined]
        removed += count
        if count < batch:
            return removed
