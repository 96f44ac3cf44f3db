"""Query helpers: a long delete goes in batches, each its own transaction, and removes only what matches."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.db.queries import delete_in_batches

metadata = MetaData()
checks = Table("batch_checks", metadata, Column("id", Integer, primary_key=True), Column("age", String))
pairs = Table("batch_pairs", metadata, Column("a", Integer, primary_key=True), Column("b", Integer, primary_key=True),
              Column("age", String))


@pytest.fixture
async def engine(app: FastAPI) -> AsyncIterator[AsyncEngine]:
    engine: AsyncEngine = app.state.parts.sessions.kw["bind"]
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)


async def _count(engine: AsyncEngine, table: Table) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(table.c.age, func.count()).group_by(table.c.age))
        return {age: n for age, n in rows.all()}


async def test_a_long_delete_is_committed_batch_by_batch(app: FastAPI, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(checks), [{"age": "old" if n % 4 else "new"} for n in range(23)])
    commits = []
    listener = lambda conn: commits.append(1)  # noqa: E731
    event.listen(engine.sync_engine, "commit", listener)
    try:
        removed = await delete_in_batches(app.state.parts.sessions, checks, checks.c.age == "old", batch=5)
    finally:
        event.remove(engine.sync_engine, "commit", listener)
    assert removed == 17
    assert len(commits) == 4  # 5 + 5 + 5 + 2: each batch its own transaction
    assert await _count(engine, checks) == {"new": 6}


async def test_rows_with_a_two_column_key_are_deleted_in_batches_too(app: FastAPI, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(pairs), [{"a": a, "b": b, "age": "old" if b < 3 else "new"}
                                           for a in range(4) for b in range(5)])
    assert await delete_in_batches(app.state.parts.sessions, pairs, pairs.c.age == "old", batch=4) == 12
    assert await _count(engine, pairs) == {"new": 8}
    assert await delete_in_batches(app.state.parts.sessions, pairs, pairs.c.age == "old", batch=4) == 0
