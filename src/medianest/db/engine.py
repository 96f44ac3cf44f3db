"""Async engine and session factory for SQLite (WAL, foreign keys, writers queued, one trip to the
driver's thread per statement) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Connection, event
from sqlalchemy.engine import AdaptedConnection, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from medianest.db.driver import connector
from medianest.db.gate import WriteGate, gate_for
from medianest.errors import DatabaseBusy

log = structlog.get_logger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]

# How long a write waits for its turn (then SQLite's own busy handler, for other processes) before the
# client is told to come back: 503 with Retry-After, never a 500.
BUSY_TIMEOUT_S = 15.0
RETRY_AFTER_S = 2
# A write transaction holding the lock this long makes every other writer wait: worth a warning.
LONG_WRITE_S = 1.0
# Every request in flight holds a connection (writers waiting for their turn included). With 15 (the
# default pool), 20 clients spent a median 30 ms waiting for one; SQLite's cost a thread each.
SQLITE_POOL = {"pool_size": 20, "max_overflow": 20}
# The statements for which the sqlite3 driver opens a transaction (it opens none for SELECT): the first
# of them in a transaction takes SQLite's write lock.
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_HOLD = "medianest.write_gate"  # in a pooled connection's info while its transaction holds the gate


@dataclass(frozen=True)
class _Hold:
    since: float
    statement: str


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
        connect = connector(make_url(url), timeout=busy_timeout_s)
        engine = create_async_engine(url, async_creator=connect, **SQLITE_POOL)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "handle_error", _busy_is_unavailable)
        if engine.url.database and engine.url.database != ":memory:":
            queue_writers(engine, gate_for(engine.url.database), busy_timeout_s)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def queue_writers(engine: AsyncEngine, gate: WriteGate, timeout_s: float) -> None:
    """Let one write transaction at a time through `gate`: taken before a transaction's first write
    (where SQLite takes its write lock), given back when the transaction ends, however it ends."""

    def before_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if _HOLD in conn.info or not statement.lstrip()[:7].upper().startswith(WRITES):
            return
        adapted = conn.connection.dbapi_connection
        assert isinstance(adapted, AdaptedConnection)
        if not adapted.run_async(lambda _driver: gate.acquire(timeout_s)):
            raise DatabaseBusy(RETRY_AFTER_S)
        conn.info[_HOLD] = _Hold(time.monotonic(), statement)

    def release(info: dict[Any, Any]) -> None:
        hold = info.pop(_HOLD, None)
        if hold is None:
            return
        gate.release()
        held = time.monotonic() - hold.since
        if held > LONG_WRITE_S:
            log.warning("long write transaction: other writers waited", seconds=round(held, 2),
                        first_write=hold.statement[:120])

    def on_end(conn: Connection) -> None:
        if not conn.invalidated:  # an invalidated one was let go by the pool's "invalidate" below
            release(conn.info)

    def on_record(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        release(record.info)

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before_execute)
    # Before the COMMIT or ROLLBACK itself, which is quick; the next writer's first statement, queued in
    # SQLite's busy handler for that moment at worst, starts one loop turn earlier.
    event.listen(sync, "commit", on_end)
    event.listen(sync, "rollback", on_end)
    # A connection returned, invalidated or closed with its transaction still open.
    event.listen(sync, "reset", lambda dbapi, record, _state: on_record(dbapi, record))
    event.listen(sync, "invalidate", lambda dbapi, record, _error: on_record(dbapi, record))
    event.listen(sync, "soft_invalidate", lambda dbapi, record, _error: on_record(dbapi, record))
    for name in ("checkin", "close", "detach"):
        event.listen(sync, name, on_record)


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
