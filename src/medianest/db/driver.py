"""The SQLite driver connection the engine makes: aiosqlite, with one trip to its thread per statement.

aiosqlite runs each connection in a thread of its own, and every call is a trip there and back through the
event loop. SQLAlchemy's adapter makes four per SELECT (make a cursor, execute, fetch all, close) and three
per write; on a busy loop each return waits its turn behind every other request, and a write transaction
holds SQLite's one write lock through all of them. Here a statement is one trip: the cursor is made, run,
read to the end and closed in the thread, as aiosqlite's own `execute_fetchall` does. Under 20 clients
(bench/load_bench.py) that served about 1.8x the requests and halved the writes' p99.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL

ITER_CHUNK_SIZE = 64  # aiosqlite's default


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
        cursor, rows = await self._execute(_statement, self._conn, sql, parameters, many)
        self._cursor, self._rows = cursor, deque(rows)

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
    """In the connection's thread: the whole life of one cursor."""
    cursor = conn._conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        return cursor, cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


class OneTripConnection(aiosqlite.Connection):
    @contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return OneTripCursor(self)  # made here, at no trip; its sqlite3 cursor comes with the first statement


def connector(url: URL, **connect_args: Any) -> Callable[[], OneTripConnection]:
    """For `create_async_engine(async_creator=...)`: connects with what SQLAlchemy's aiosqlite dialect would
    pass to sqlite3 for `url` (its query options included), plus `connect_args`."""
    cargs, cparams = SQLiteDialect_aiosqlite().create_connect_args(url)
    return lambda: OneTripConnection(partial(sqlite3.connect, *cargs, **{**cparams, **connect_args}), ITER_CHUNK_SIZE)
