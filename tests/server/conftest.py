"""A real `medianest serve` process on 127.0.0.1 with a generated library, shared by this folder's tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.accounts.plextv import running
from tests.conftest import PASSWORD, PG_URL
from tests.media import copy_library


@dataclass
class LiveServer:
    base_url: str
    token: str
    data_dir: Path
    media_dir: Path
    process: subprocess.Popen[bytes]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


CLOSED_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, media_source: tuple[Path, dict[str, str]],
                ) -> Iterator[LiveServer]:
    with contextlib.ExitStack() as stack:
        yield from _serve(stack, tmp_path_factory, media_source)


def _serve(stack: contextlib.ExitStack, tmp_path_factory: pytest.TempPathFactory,
           media_source: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("live")
    media = root / "media"
    copy_library(media_source[0], media)
    port = _port()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(root / "data"), "MEDIANEST_MEDIA_DIRS": str(media),
           "MEDIANEST_PORT": str(port), "MEDIANEST_RATE_LIMITS_ENABLED": "false", "MEDIANEST_LOG_LEVEL": "WARNING",
           # Fuzzed download URLs must never make the server look up or fetch a real host: only
           # localhost passes the allow-list (no DNS), and then is refused as a private address.
           "MEDIANEST_DOWNLOADS_ALLOWED_SITES": "localhost",
           # Fuzzed Plex sign-ins go to the plex.tv stand-in, never to plex.tv.
           "MEDIANEST_PLEX_TV_URL": stack.enter_context(running()).url,
           # Fuzzed service connections name any host: the outgoing client (which honours the usual proxy
           # variables) sends everything but loopback to a closed local port, so no name is ever looked
           # up and nothing leaves the machine.
           **{name: CLOSED_PROXY for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
           "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("MEDIANEST_DATABASE_URL", None)
    if PG_URL:  # in CI the live server (and so schemathesis) runs on PostgreSQL
        env["MEDIANEST_DATABASE_URL"] = stack.enter_context(_fresh_pg_database(PG_URL))
    log = stack.enter_context((root / "server.log").open("wb"))
    proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        r = httpx.post(f"{url}/api/v1/auth/setup", json={"username": "admin", "password": PASSWORD})
        r.raise_for_status()
        _wait_scanned(url, r.json()["data"]["access_token"])
        yield LiveServer(url, r.json()["data"]["access_token"], root / "data", media, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def _fresh_pg_database(server_url: str) -> Iterator[str]:
    url = make_url(server_url)
    name = f"medianest_live_{secrets.token_hex(6)}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _wait_scanned(url: str, token: str, timeout_s: float = 60) -> None:
    """The start-up scan runs in the background; wait until the library has items."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/api/v1/media", headers={"Authorization": f"Bearer {token}"})
        if r.json()["meta"]["total"] >= 7:
            return
        time.sleep(0.2)
    raise RuntimeError("start-up scan did not index the library")

