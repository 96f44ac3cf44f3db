"""SQLite's driver connection: one trip to aiosqlite's thread per statement, and everything SQLAlchemy reads
from a cursor (rows, streamed rows, rowcount, lastrowid, errors) as before."""

from __future__ import annotations

import asyncio
import sqlite3
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


def _count_trips(driver: Any) -> list[Any]:
    trips: list[Any] = []
    real = driver._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await real(fn, *args, **kwargs)

    driver._execute = counted
    return trips


async def test_a_read_is_one_trip_and_a_write_transaction_none(engine: AsyncEngine) -> None:
    """aiosqlite as SQLAlchemy drives it makes four trips a SELECT (cursor, execute, fetchall, close): on a
    busy event loop each waits behind every other request. A write transaction holds SQLite's lock (and
    every other writer waits) from its first write to its COMMIT, so with the gate free it runs on the loop,
    in no trip at all."""
    async with engine.connect() as conn:
        trips = _count_trips((await conn.get_raw_connection()).driver_connection)
        assert (await conn.execute(select(songs.c.title).where(songs.c.id == 1))).all() == []
        assert len(trips) == 1
        await conn.execute(insert(songs).values(title="a"))
        assert (await conn.execute(select(func.count()).select_from(songs))).scalar() == 1
        await conn.commit()
        assert len(trips) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(select(songs.c.title))).scalars().all() == ["a"]


async def test_a_first_write_that_must_wait_waits_in_the_thread_not_on_the_loop(engine: AsyncEngine) -> None:
    async with engine.connect() as holder, engine.connect() as waiter:
        await holder.execute(insert(songs).values(title="held"))  # holds the gate: a transaction is open
        trips = _count_trips((await waiter.get_raw_connection()).driver_connection)

        async def write() -> None:
            await waiter.execute(insert(songs).values(title="queued"))
            await waiter.commit()

        task = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        # Waiting for its turn, in the thread: were it waiting on the loop, this sleep would not have ended.
        assert not task.done()
        await holder.commit()
        await asyncio.wait_for(task, 10)
        assert len(trips) == 1  # the first write went to the thread to wait; the COMMIT did not
    async with engine.connect() as conn:
        assert sorted((await conn.execute(select(songs.c.title))).scalars()) == ["held", "queued"]


async def test_a_first_write_behind_another_process_waits_in_the_thread(engine: AsyncEngine, tmp_path: Path) -> None:
    """Another process's lock is SQLite's, not the gate's: the write tried on the loop is told at once
    (busy_timeout 0) and goes to wait in the thread with the connection's full busy timeout."""
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    async with engine.connect() as conn:
        task = asyncio.create_task(conn.execute(insert(songs).values(title="after")))
        await asyncio.sleep(0.5)
        assert not task.done()  # waiting in the thread, with the loop free (the sleep ended)
        other.execute("COMMIT")
        await asyncio.wait_for(task, 10)
        await conn.commit()
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    other.close()
    assert timeout == 15000  # restored after the attempt on the loop
    async with engine.connect() as conn:
        assert (await conn.execute(select(songs.c.title))).scalars().all() == ["after"]


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
