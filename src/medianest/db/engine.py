"""Async engine and session factory for SQLite (WAL, foreign keys, writers queued in turn, one trip to the
driver's thread per statement: db/driver.py) and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from medianest.db.driver import RETRY_AFTER_S, connector
from medianest.db.gate import gate_for
from medianest.errors import DatabaseBusy

SessionFactory = async_sessionmaker[AsyncSession]

# How long a write waits for its turn (then SQLite's own busy handler, for other processes) before the
# client is told to come back: 503 with Retry-After, never a 500.
BUSY_TIMEOUT_S = 15.0
# Every request in flight holds a connection (writers waiting for their turn included). With 15 (the
# default pool), 20 clients spent a median 30 ms waiting for one; SQLite's cost a thread each.
SQLITE_POOL = {"pool_size": 20, "max_overflow": 20}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # WAL makes NORMAL durable across application crashes; only power loss can lose the last commit.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_engine(url: str, busy_timeout_s: float = BUSY_TIMEOUT_S) -> AsyncEngine:
    """`busy_timeout_s`: how long a write waits for SQLite's write lock (PostgreSQL locks rows and does
    not use it)."""
    if url.startswith("sqlite"):
        parsed = make_url(url)
        file = parsed.database if parsed.database and parsed.database != ":memory:" else None
        gate = gate_for(file) if file else None
        engine = create_async_engine(url, async_creator=connector(parsed, gate, busy_timeout_s), **SQLITE_POOL)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "handle_error", _busy_is_unavailable)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _busy_is_unavailable(context: ExceptionContext) -> BaseException | None:
    """SQLite still busy after its wait (another process held the write lock): the client may retry."""
    error = context.original_exception
    if isinstance(error, sqlite3.OperationalError) and error.sqlite_errorcode & 0xFF in (
            sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return DatabaseBusy(RETRY_AFTER_S)
    return None


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on any error."""
    async with factory() as session, session.begin():
        yield session
