"""The SQLite driver connection the engine makes: aiosqlite, with one trip to its thread per statement.

aiosqlite runs each connection in a thread of its own, and every call is a trip there and back through the
event loop. SQLAlchemy's adapter makes four per SELECT (make a cursor, execute, fetch all, close) and three
per write; on a busy loop each return waits its turn behind every other request, and a write transaction
holds SQLite's one write lock through all of them. Here a statement is one trip: the cursor is made, run,
read to the end and closed in the thread, as aiosqlite's own `execute_fetchall` does. Under 20 clients
(bench/load_bench.py) that served about 1.8x the requests and halved the writes' p99.

Its sqlite3 connection also queues the transaction's first write at the file's WriteGate (db/gate.py),
in the same trip, and gives the gate back as the transaction ends, in the thread that ended it.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite
import structlog
from aiosqlite.context import contextmanager
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL

from medianest.db.gate import WriteGate
from medianest.errors import DatabaseBusy

log = structlog.get_logger(__name__)

ITER_CHUNK_SIZE = 64  # aiosqlite's default
RETRY_AFTER_S = 2  # what a write that got no turn tells the client
# A write transaction holding the lock this long makes every other writer wait: worth a warning.
LONG_WRITE_S = 1.0
# The statements for which the sqlite3 driver opens a transaction (it opens none for SELECT): the first
# of them in a transaction takes SQLite's write lock.
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(WRITES)


class GatedConnection(sqlite3.Connection):
    """Takes its file's write gate before a transaction's first write; gives it back once no
    transaction is open, however it ended (commit, rollback, an error SQLite rolled back, close)."""

    gate: WriteGate | None = None
    wait_s: float = 15.0
    _since: float | None = None
    _first_write = ""

    def before(self, sql: str) -> None:
        if self.gate is None or self._since is not None or not _is_write(sql):
            return
        if not self.gate.acquire(self.wait_s):
            raise DatabaseBusy(RETRY_AFTER_S)
        self._since, self._first_write = time.monotonic(), sql

    def after(self) -> None:
        if self._since is not None and not self.in_transaction:
            self._let_go()

    def take_gate_now(self, sql: str) -> bool:
        """Take the gate for a transaction's first write only if it is free right now."""
        if self.gate is None or self._since is not None or not _is_write(sql) or not self.gate.try_acquire():
            return False
        self._since, self._first_write = time.monotonic(), sql
        return True

    @property
    def writing(self) -> bool:
        """Whether this connection holds the gate (it is between a transaction's first write and its end)."""
        return self._since is not None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._since is not None:
                self._let_go()

    def _let_go(self) -> None:
        assert self.gate is not None and self._since is not None
        held, self._since = time.monotonic() - self._since, None
        self.gate.release()
        if held > LONG_WRITE_S:
            log.warning("long write transaction: other writers waited", seconds=round(held, 2),
                        first_write=self._first_write[:120])


class OneTripCursor(aiosqlite.Cursor):
    """Rows come back with the statement; fetching them takes no further trip."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(conn, None)  # type: ignore[arg-type]  # the sqlite3 cursor is made in the thread
        self._rows: deque[Any] = deque()

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        await self._run(sql, [] if parameters is None else parameters, many=False)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        await self._run(sql, parameters, many=True)
        return self

    async def _run(self, sql: str, parameters: Any, many: bool) -> None:
        # A write transaction runs here, on the event loop, without trips, when it can: see
        # OneTripConnection. (executemany, a batch of rows, always goes to the thread.)
        done = None if many else _here(self._conn, sql, parameters)
        if done is None:
            done = await self._execute(_statement, self._conn, sql, parameters, many)
        self._cursor, self._rows = done[0], deque(done[1])

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self._cursor.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        """Nothing to do: the sqlite3 cursor was closed in the thread (its description, rowcount and
        lastrowid stay readable)."""


def _statement(conn: aiosqlite.Connection, sql: str, parameters: Any, many: bool) -> tuple[sqlite3.Cursor, list[Any]]:
    """In the connection's thread: the whole life of one cursor (after its turn at the gate, for a write)."""
    raw = conn._conn
    assert isinstance(raw, GatedConnection)
    raw.before(sql)
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        return cursor, cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()
        raw.after()


class OneTripConnection(aiosqlite.Connection):
    """Statements go to the connection's thread, except once it holds the write gate.

    A write transaction holds SQLite's write lock (the whole database's) from its first write to its
    end. Each trip back from the thread waits its turn on a busy event loop, behind every other request,
    and every writer waits with it: under 20 clients, three statements and a COMMIT held the lock for
    four loop turns, and writes queued for a quarter of a second. So a write transaction runs right here,
    on the loop, from its first write to its COMMIT: that blocks the loop for the time SQLite takes (a
    fraction of a millisecond a statement), and the lock is held for no loop turn at all. It never blocks
    the loop for a lock: a first write that would wait (the gate taken, or another process holding
    SQLite's lock) goes to the thread to wait there, and after the first write the lock is held, and in
    WAL mode neither statements nor the COMMIT of the holder wait for anybody."""

    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return OneTripCursor(self)  # made here, at no trip; its sqlite3 cursor comes with the first statement

    async def commit(self) -> None:
        if _writing(self):
            self._conn.commit()
        else:
            await super().commit()

    async def rollback(self) -> None:
        if _writing(self):
            self._conn.rollback()
        else:
            await super().rollback()


def _writing(conn: aiosqlite.Connection) -> bool:
    raw = conn._conn
    return isinstance(raw, GatedConnection) and raw.writing


def _here(conn: aiosqlite.Connection, sql: str, parameters: Any) -> tuple[sqlite3.Cursor, list[Any]] | None:
    """The statement run on the calling (event loop) thread, or None when it must go to the thread."""
    if _writing(conn):
        return _statement(conn, sql, parameters, False)
    raw = conn._conn
    if not isinstance(raw, GatedConnection) or not raw.take_gate_now(sql):
        return None
    # A first write with the gate free: run it here too, unless another process holds SQLite's lock, which
    # it must not wait for on the loop (busy_timeout 0 answers at once). It then waits in the thread.
    raw.execute("PRAGMA busy_timeout=0")
    try:
        return _statement(conn, sql, parameters, False)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
        raw.rollback()  # the BEGIN the driver sent before the write; gives the gate back
        return None
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(raw.wait_s * 1000)}")


def connector(url: URL, gate: WriteGate | None, wait_s: float) -> Callable[[], OneTripConnection]:
    """For `create_async_engine(async_creator=...)`: connects with what SQLAlchemy's aiosqlite dialect would
    pass to sqlite3 for `url` (its query options included); writes queue at `gate` for up to `wait_s`, and
    then at SQLite's busy handler (other processes) for as long."""
    cargs, cparams = SQLiteDialect_aiosqlite().create_connect_args(url)
    return lambda: OneTripConnection(partial(_connect, cargs, {**cparams, "timeout": wait_s}, gate, wait_s),
                                     ITER_CHUNK_SIZE)


def _connect(cargs: Sequence[Any], cparams: dict[str, Any], gate: WriteGate | None, wait_s: float) -> GatedConnection:
    """In the connection's thread."""
    raw = sqlite3.connect(*cargs, **cparams, factory=GatedConnection)
    assert isinstance(raw, GatedConnection)
    raw.gate, raw.wait_s = gate, wait_s
    return raw
