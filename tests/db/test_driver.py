"""SQLite's driver connection: one trip to aiosqlite's thread per statement, and everything SQLAlchemy reads
from a cursor (rows, streamed rows, rowcount, lastrowid, errors) as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.db.engine import create_engine

metadata = MetaData()
songs = Table("songs", metadata, Column("id", Integer, primary_key=True), Column("title", String, unique=True))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_a_statement_is_one_trip_to_the_driver_thread(engine: AsyncEngine) -> None:
    """aiosqlite as SQLAlchemy drives it makes four (cursor, execute, fetchall, close): on a busy event loop
    each waits behind every other request, and a write transaction holds SQLite's lock meanwhile."""
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        trips = []
        real = driver._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            trips.append(fn)
            return await real(fn, *args, **kwargs)

        driver._execute = counted
        assert (await conn.execute(select(songs.c.title).where(songs.c.id == 1))).all() == []
        await conn.execute(insert(songs).values(title="a"))
        assert len(trips) == 2


async def test_rows_counts_and_ids_come_back_as_from_sqlite3(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        one = await conn.execute(insert(songs).values(title="first"))
        assert one.inserted_primary_key == (1,)
        many = await conn.execute(insert(songs), [{"title": f"song {n}"} for n in range(250)])
        assert many.rowcount == 250
        returned = await conn.execute(insert(songs).values(title="last").returning(songs.c.id))
        assert returned.scalar_one() == 252
        updated = await conn.execute(text("UPDATE songs SET title = title || '!' WHERE id > 200"))
        assert updated.rowcount == 52
    async with engine.connect() as conn:
        titles = (await conn.execute(select(songs.c.title).order_by(songs.c.id))).scalars().all()
        assert len(titles) == 252 and titles[0] == "first" and titles[-1] == "last!"
        assert (await conn.execute(select(func.count()).select_from(songs))).scalar() == 252
        assert (await conn.execute(select(songs.c.id).where(songs.c.title == "none"))).first() is None


async def test_streamed_rows_arrive_in_chunks_and_all_of_them(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(songs), [{"title": f"song {n}"} for n in range(130)])
    async with engine.connect() as conn:
        result = await conn.stream(select(songs.c.id).order_by(songs.c.id).execution_options(yield_per=50))
        chunks = [[row.id for row in chunk] async for chunk in result.partitions()]
    assert [len(c) for c in chunks] == [50, 50, 30]
    assert [i for chunk in chunks for i in chunk] == list(range(1, 131))


async def test_errors_are_the_drivers_and_leave_the_connection_usable(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(insert(songs).values(title="twice"))
        with pytest.raises(IntegrityError):
            await conn.execute(insert(songs).values(title="twice"))
        await conn.rollback()
        assert (await conn.execute(select(func.count()).select_from(songs))).scalar() == 0
        await conn.execute(insert(songs).values(title="once"))
        await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(songs.c.title))).scalars().all() == ["once"]
