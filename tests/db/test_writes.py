"""Writers on SQLite: they take turns in arrival order (on any event loop of the process), the turn is given
back however a transaction ends, and a write that cannot get its turn in time is a 503 with Retry-After,
never a 500 and never half written."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.config import Settings
from medianest.db.engine import create_engine, create_session_factory, transaction
from medianest.db.gate import WriteGate, gate_for
from medianest.errors import DatabaseBusy
from medianest.playlists.models import Playlist
from tests.conftest import Api, MigratedTemplates, bearer, migrated_database

SHORT_WAIT_S = 0.3  # the app's busy timeout here: long enough for an uncontended write, short for a test


@pytest.fixture
async def database_url(tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[str]:
    """SQLite only: PostgreSQL locks rows, not the database, so its writers never queue for one lock."""
    async with migrated_database("sqlite", tmp_path, migrated_templates) as url:
        yield url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"database_busy_timeout_s": SHORT_WAIT_S})


def _db_path(settings: Settings) -> str:
    path = make_url(settings.db_url).database
    assert path
    return path


async def _wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never came true"
        await asyncio.sleep(0.01)


def _assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "UNAVAILABLE" and error["details"]["retry_after_s"] >= 1 and error["request_id"]
    assert int(r.headers["Retry-After"]) == error["details"]["retry_after_s"]


async def _playlists(app: FastAPI) -> int:
    async with app.state.parts.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Playlist)) or 0)


async def test_a_write_behind_a_long_transaction_here_is_a_503_and_writes_nothing(app: FastAPI, api: Api) -> None:
    """The M3U8 import held the write lock for 25 s: other users' sign-ins and changes failed with a 500
    `database is locked`."""
    admin = await api.setup_admin()
    async with app.state.parts.sessions() as hog:
        await hog.execute(update(User).values(last_login_at=None))  # an open write transaction
        r = await api.client.post("/api/v1/playlists", json={"name": "mine"}, headers=bearer(admin))
        _assert_busy(r)
        _assert_busy(await api.client.post("/api/v1/auth/login", json={"username": "admin",
                                                                         "password": "correct-horse-battery"}))
        await hog.rollback()
    assert await _playlists(app) == 0
    r = await api.client.post("/api/v1/playlists", json={"name": "mine"}, headers=bearer(admin))
    assert r.status_code == 201, r.text


async def test_a_write_behind_another_process_is_a_503(app: FastAPI, api: Api, settings: Settings) -> None:
    """Another process (`medianest scan`, a worker) holds SQLite's write lock past the busy timeout."""
    admin = await api.setup_admin()
    other = sqlite3.connect(_db_path(settings), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        _assert_busy(await api.client.post("/api/v1/playlists", json={"name": "mine"}, headers=bearer(admin)))
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await _playlists(app) == 0
    r = await api.client.post("/api/v1/playlists", json={"name": "mine"}, headers=bearer(admin))
    assert r.status_code == 201, r.text


def _wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def test_writers_take_turns_in_arrival_order() -> None:
    gate, order = WriteGate(), []
    assert gate.acquire(1)

    def writer(n: int) -> None:
        if gate.acquire(60):
            order.append(n)
            gate.release()

    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=writer, args=(n,)))
        threads[-1].start()
        _wait_for(lambda n=n: gate.waiting == n + 1)
    gate.release()
    for thread in threads:
        thread.join(60)
    assert order == [0, 1, 2, 3, 4]
    assert gate.acquire(0.01)  # and it is free at the end


def test_a_writer_whose_turn_does_not_come_leaves_the_queue() -> None:
    gate = WriteGate()
    assert gate.acquire(1)
    assert not gate.acquire(0.05)
    assert gate.waiting == 0
    gate.release()
    assert gate.acquire(0.01)


async def test_a_writer_on_another_event_loop_waits_its_turn(settings: Settings, tmp_path: Path) -> None:
    """huey's job threads run their own event loop and engine on the same file: they queue at the same
    gate as the server's requests instead of napping in SQLite's busy handler."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    here = create_engine(url)
    sessions = create_session_factory(here)
    async with here.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    gate = gate_for(str(tmp_path / "shared.db"))
    outcome: list[object] = []

    async def job() -> None:
        engine = create_engine(url, busy_timeout_s=60)
        try:
            async with transaction(create_session_factory(engine)) as session:
                await session.execute(text("INSERT INTO t (who) VALUES ('job')"))
            outcome.append("written")
        except Exception as exc:
            outcome.append(exc)
        finally:
            await engine.dispose()

    try:
        async with sessions() as session:
            await session.execute(text("INSERT INTO t (who) VALUES ('request')"))
            thread = threading.Thread(target=asyncio.run, args=(job(),))
            thread.start()
            await _wait_until(lambda: gate.waiting == 1)
            await session.commit()
        await asyncio.to_thread(thread.join, 60)
        assert outcome == ["written"]
        async with sessions() as session:
            assert list(await session.scalars(text("SELECT who FROM t ORDER BY id"))) == ["request", "job"]
    finally:
        await here.dispose()


async def _commit(s: AsyncSession) -> None:
    await s.commit()


async def _rollback(s: AsyncSession) -> None:
    await s.rollback()


async def _close_only(s: AsyncSession) -> None:
    pass  # the session closes with the transaction open


async def _invalidate(s: AsyncSession) -> None:
    await (await s.connection()).invalidate()


async def _raise(s: AsyncSession) -> None:
    raise RuntimeError("the service failed half-way")


async def _failed_write(s: AsyncSession) -> None:
    await s.execute(text("INSERT INTO nowhere DEFAULT VALUES"))


@pytest.mark.parametrize("end", [_commit, _rollback, _close_only, _invalidate, _raise, _failed_write],
                         ids=["commit", "rollback", "closed", "invalidated", "error", "failed-write"])
async def test_the_turn_is_given_back_however_a_transaction_ends(
        app: FastAPI, end: Callable[[AsyncSession], Awaitable[None]]) -> None:
    async with app.state.parts.sessions() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await s.commit()
    try:
        async with app.state.parts.sessions() as s:
            await s.execute(text("INSERT INTO t DEFAULT VALUES"))
            await end(s)
    except (RuntimeError, OperationalError):
        pass
    async with transaction(app.state.parts.sessions) as s:  # would wait SHORT_WAIT_S and fail if the turn leaked
        await s.execute(text("INSERT INTO t DEFAULT VALUES"))


async def test_the_turn_is_given_back_when_the_request_is_cancelled(app: FastAPI) -> None:
    holding = asyncio.Event()

    async def stuck() -> None:
        async with app.state.parts.sessions() as s:
            await s.execute(text("INSERT INTO t DEFAULT VALUES"))
            holding.set()
            await asyncio.Event().wait()

    async with transaction(app.state.parts.sessions) as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    task = asyncio.create_task(stuck())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with transaction(app.state.parts.sessions) as s:
        await s.execute(text("INSERT INTO t DEFAULT VALUES"))


async def test_a_turn_not_given_in_time_raises_the_typed_error(app: FastAPI) -> None:
    async with app.state.parts.sessions() as hog, app.state.parts.sessions() as late:
        await hog.execute(update(User).values(last_login_at=None))
        with pytest.raises(DatabaseBusy):
            await late.execute(update(User).values(last_login_at=None))
