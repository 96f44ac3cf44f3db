"""Shared fixtures: a real SQLite file (and PostgreSQL when MEDIANEST_TEST_DATABASE_URL is set), real
media made by ffmpeg, the app with its lifespan, and an HTTP client bound to it in-process."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from medianest.app import create_app
from medianest.config import Settings
from medianest.db.migrate import upgrade
from tests.media import build_library, copy_library
from tests.routecache import share_route_contexts

PG_URL = os.environ.get("MEDIANEST_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
PASSWORD = "correct-horse-battery"
# Argon2id at the least cost it allows: the same code and hash format, at microseconds instead of ~0.15 s a
# hash. Every Settings a test builds for a server takes these (`**CHEAP_PASSWORDS`, or the env form for a
# subprocess); production keeps argon2-cffi's defaults (tests/accounts/test_passwords.py).
CHEAP_PASSWORDS = {"password_hash_time_cost": 1, "password_hash_memory_kib": 8, "password_hash_parallelism": 1}
CHEAP_PASSWORDS_ENV = {f"MEDIANEST_{name.upper()}": str(value) for name, value in CHEAP_PASSWORDS.items()}
# The tests with Socket.IO on the shared Redis (MEDIANEST_TEST_REDIS_URL) take turns, machine-wide: every
# app's Socket.IO uses the one Redis channel `socketio` whatever its queue name, so two such tests at once
# (two xdist workers, or two test runs) would hear each other's events and room closings.
REDIS_SOCKETIO_LOCK = Path(tempfile.gettempdir()) / "medianest-tests-redis-socketio.lock"
share_route_contexts()  # one app per test, but each route's handling built once per process (tests/routecache.py)


@pytest.fixture
def redis_socketio_turn() -> Iterator[None]:
    """Held for the whole test by the tests that use Socket.IO through Redis."""
    with REDIS_SOCKETIO_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture(scope="session")
def media_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Generated once per run; tests get their own copy."""
    root = tmp_path_factory.mktemp("media-source")
    files = build_library(root)
    return root, {k: str(p.relative_to(root)) for k, p in files.items()}


@pytest.fixture
def media_dir(tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> Path:
    dest = tmp_path / "media"
    copy_library(media_source[0], dest)
    return dest


@pytest.fixture
def media_files(media_dir: Path, media_source: tuple[Path, dict[str, str]]) -> dict[str, Path]:
    return {k: media_dir / rel for k, rel in media_source[1].items()}


@contextlib.asynccontextmanager
async def fresh_database(backend: str, root: Path, template: str | Path | None = None) -> AsyncIterator[str]:
    """The URL of a new database: a SQLite file under `root`, or a new PostgreSQL database dropped after.

    Empty, or a copy of `template` (a migrated SQLite file, or the name of a migrated PostgreSQL database:
    see `MigratedTemplates`)."""
    if backend == "sqlite":
        path = root / "medianest.db"
        if template is not None:
            shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    assert PG_URL
    url = make_url(PG_URL)
    name = f"medianest_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def _pg_admin_dsn() -> str:
    assert PG_URL
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


class MigratedTemplates:
    """One database per backend migrated to head once per session (per xdist worker), that the tests'
    databases are copied from: the SQLite file is copied, PostgreSQL's made with CREATE DATABASE ... TEMPLATE.
    The app's own migration at start-up (`migrate_on_start`) then finds nothing to do.

    Migrating from an empty database is still tested: here, by the CLI tests (`medianest db upgrade`), by
    every live server (tests/liveserver.py starts on an empty database) and by tests/db/test_database.py
    (down to base and up again)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite: Path | None = None
        self._postgresql: str | None = None

    async def get(self, backend: str) -> str | Path:
        if backend == "sqlite":
            if self._sqlite is None:
                path = self.root / "template.db"
                await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{path}")
                # Everything in the main file (no -wal beside it), so a copy of that file is the database.
                with contextlib.closing(sqlite3.connect(path)) as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                assert not path.with_name(f"{path.name}-wal").exists()
                self._sqlite = path
            return self._sqlite
        if self._postgresql is None:
            assert PG_URL
            # Unique per worker and run: two test runs (or xdist workers) on one server never share it.
            name = f"medianest_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{secrets.token_hex(4)}"
            conn = await asyncpg.connect(_pg_admin_dsn())
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            url = make_url(PG_URL).set(drivername="postgresql+asyncpg", database=name)
            await asyncio.to_thread(upgrade, url.render_as_string(hide_password=False))
            self._postgresql = name
        return self._postgresql

    def drop(self) -> None:
        if self._postgresql is None:
            return

        async def drop(name: str) -> None:
            conn = await asyncpg.connect(_pg_admin_dsn())
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        # A thread of its own: the session may end while an event loop runs in this one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, drop(self._postgresql)).result()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    templates.drop()


@contextlib.asynccontextmanager
async def migrated_database(backend: str, root: Path, templates: MigratedTemplates) -> AsyncIterator[str]:
    """A new database already at the newest migration (a copy of the session's template)."""
    async with fresh_database(backend, root, await templates.get(backend)) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                       migrated_templates: MigratedTemplates) -> AsyncIterator[str]:
    async with migrated_database(request.param, tmp_path, migrated_templates) as url:
        yield url


def make_settings(root: Path, media_dir: Path, database_url: str, **extra: Any) -> Settings:
    """The tests' Settings: data under `root`, the library at `media_dir`, and `extra` settings."""
    # plex.tv and Dailymotion at a closed local port, and no YouTube search (yt-dlp would go online): a test that
    # forgets its stand-in fails instead of going online.
    return Settings(data_dir=root / "data", media_dirs=[media_dir], database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING", plex_tv_url="http://127.0.0.1:9",
                    dailymotion_api_url="http://127.0.0.1:9", remote_search_sites=["dailymotion"],
                    **{**CHEAP_PASSWORDS, **extra})


@pytest.fixture
def settings(tmp_path: Path, media_dir: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, media_dir, database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class Api:
    """Small helper around the client: sign-up/sign-in and authenticated calls."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app

    async def setup_admin(self, username: str = "admin") -> str:
        r = await self.client.post("/api/v1/auth/setup", json={"username": username, "password": PASSWORD})
        assert r.status_code == 201, r.text
        token: str = r.json()["data"]["access_token"]
        return token

    async def create_user(self, admin_token: str, username: str, role: str = "user") -> str:
        r = await self.client.post("/api/v1/users", json={"username": username, "password": PASSWORD, "role": role},
                                   headers=bearer(admin_token))
        assert r.status_code == 201, r.text
        return await self.login(username)

    async def login(self, username: str, password: str = PASSWORD) -> str:
        r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["data"]["access_token"]
        return token

    async def scan(self) -> dict[str, Any]:
        runner = self.app.state.parts.scans
        scan = await runner.start(requested_by=None)
        await runner.wait()
        return (await runner.get(scan.id)).__dict__

    async def all_media(self, token: str, **params: Any) -> list[dict[str, Any]]:
        r = await self.client.get("/api/v1/media", params={"per_page": 100, **params}, headers=bearer(token))
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["data"]
        return items

    async def media_by_title(self, token: str, title: str) -> dict[str, Any]:
        for item in await self.all_media(token):
            if item["title"] == title:
                return item
        raise AssertionError(f"no media titled {title!r}")


@pytest.fixture
def api(client: httpx.AsyncClient, app: FastAPI) -> Api:
    return Api(client, app)


@contextlib.asynccontextmanager
async def serving(application: FastAPI) -> AsyncIterator[Api]:
    """What the `app`, `client` and `api` fixtures give, for fixtures of a wider scope: the app with its
    lifespan running and a client bound to it in-process."""
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver") as c:
        yield Api(c, application)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def free_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port
