"""Socket.IO tests: the test's app (its lifespan already run by the `app` fixture) served for real on
127.0.0.1 by uvicorn in the test's own loop, and real python-socketio clients connecting to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
import uvicorn
from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import CHEAP_PASSWORDS, Api, bearer

REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL")
WAIT_S = 30  # how long a condition may take on a loaded machine: a deadline against hangs, not a speed check


@contextlib.asynccontextmanager
async def served(app: FastAPI, port: int) -> AsyncIterator[str]:
    """`app` listening on 127.0.0.1:`port` until the block ends; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert not task.done() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live(app: FastAPI, free_port: int) -> AsyncIterator[str]:
    async with served(app, free_port) as base:
        yield base


@dataclass
class Instances:
    """Two app instances on one database and one Redis, as two `serve` processes would be: the first is
    reached in-process (`api`), the second over a real socket (`base`)."""

    api: Api
    second: FastAPI
    base: str


@pytest.fixture
async def two_instances(tmp_path: Path, media_dir: Path, database_url: str, free_port: int,
                        redis_socketio_turn: None) -> AsyncIterator[Instances]:
    if not REDIS_URL:
        pytest.skip("MEDIANEST_TEST_REDIS_URL is not set (CI sets it)")
    queue = f"medianest-test-{secrets.token_hex(4)}"

    def settings() -> Settings:
        # Downloads may name a loopback URL: nothing fetches it (with Redis, `serve` runs no download jobs).
        return Settings(data_dir=tmp_path / "data", media_dirs=[media_dir], database_url=database_url,
                        redis_url=REDIS_URL, queue_name=queue, scan_on_start=False, log_format="console",
                        log_level="WARNING", plex_tv_url="http://127.0.0.1:9", rate_limits_enabled=False,
                        downloads_allow_private_networks=True, **CHEAP_PASSWORDS)

    first, second = create_app(settings()), create_app(settings())
    async with first.router.lifespan_context(first), second.router.lifespan_context(second), \
            served(second, free_port) as base, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://testserver") as client:
        yield Instances(Api(client, first), second, base)


@dataclass
class Socket:
    """A connected client, every event it received, and whether the server has ended it."""

    client: socketio.AsyncClient
    events: list[tuple[str, Any]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_ended(self) -> None:
        try:
            await asyncio.wait_for(self.ended.wait(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"the socket is still connected after {WAIT_S} s") from None

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


async def connect(base: str, auth: dict[str, str]) -> Socket:
    client = socketio.AsyncClient(reconnection=False)
    sock = Socket(client)

    async def record(event: str, data: Any = None) -> None:
        sock.events.append((event, data))

    async def ended(*_reason: Any) -> None:
        sock.ended.set()

    client.on("*", record)
    client.on("disconnect", ended)
    await client.connect(base, auth=auth, transports=["websocket"], wait_timeout=10)
    return sock


async def refused(base: str, auth: dict[str, str]) -> bool:
    """Whether the server refuses a connection with `auth`."""
    try:
        sock = await connect(base, auth)
    except socketio.exceptions.ConnectionError:
        return True
    await sock.close()
    return False


async def until(condition: Any, what: str) -> None:
    """Wait for `condition()` (sync or async) to be true."""
    deadline = time.monotonic() + WAIT_S
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.05)


async def user_id(client: httpx.AsyncClient, token: str) -> str:
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    uid: str = r.json()["data"]["id"]
    return uid
