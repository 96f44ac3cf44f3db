"""Socket.IO against a real `medianest serve` (granian, the queue consumed in the server) with a real
python-socketio client: auth on connect, rooms, and a download's events from queued to completed."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from tests.conftest import CHEAP_PASSWORDS_ENV, PASSWORD, bearer
from tests.downloads.mediaserver import MediaServer


@dataclass
class Live:
    base: str
    admin: str


@dataclass
class Listener:
    """A connected client and every event it received, in order."""

    client: socketio.AsyncClient
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def named(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(e, p) for e, p in self.events if e.startswith(prefix)]


REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL")


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    library = tmp_path / "library"
    library.mkdir(exist_ok=True)
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(tmp_path / "data"), "MEDIANEST_MEDIA_DIRS": str(library),
           "MEDIANEST_PORT": str(port), "MEDIANEST_LOG_LEVEL": "WARNING",
           "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "MEDIANEST_RATE_LIMITS_ENABLED": "false",
           **CHEAP_PASSWORDS_ENV}
    env.pop("MEDIANEST_DATABASE_URL", None)
    return env


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medianest", *args], env=env, stdout=out, stderr=out)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def live(tmp_path: Path, free_port: int) -> Iterator[Live]:
    """The embedded mode: one `serve` that also runs the jobs."""
    with _process(["serve"], _env(tmp_path, free_port), tmp_path / "serve.log") as proc:
        base = f"http://127.0.0.1:{free_port}"
        yield Live(base, _setup(base, proc))


@pytest.fixture
def scaled(tmp_path: Path, free_port: int, redis_socketio_turn: None) -> Iterator[Live]:
    """The scaled mode on the real Redis: `serve` only queues and relays events, a `medianest worker`
    process runs the jobs, and its events reach the server's Socket.IO clients through Redis."""
    if not REDIS_URL:
        pytest.skip("MEDIANEST_TEST_REDIS_URL is not set (CI sets it)")
    env = {**_env(tmp_path, free_port), "MEDIANEST_REDIS_URL": REDIS_URL,
           "MEDIANEST_QUEUE_NAME": f"medianest-test-{secrets.token_hex(4)}"}
    with _process(["serve"], env, tmp_path / "serve.log") as proc:
        base = f"http://127.0.0.1:{free_port}"
        admin = _setup(base, proc)  # also waits for the migrations the worker needs
        with _process(["worker"], env, tmp_path / "worker.log"):
            yield Live(base, admin)


def _setup(base: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120  # start-up deadline, not a speed check
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            r = httpx.post(f"{base}/api/v1/auth/setup", json={"username": "admin", "password": PASSWORD})
            token: str = r.json()["data"]["access_token"]
            return token
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


async def _listen(base: str, token: str) -> Listener:
    client = socketio.AsyncClient(reconnection=False)
    listener = Listener(client)

    async def record(event: str, data: dict[str, Any]) -> None:
        listener.events.append((event, data))

    client.on("*", record)
    await client.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return listener


async def _user(base: str, admin: str, name: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/api/v1/users", json={"username": name, "password": PASSWORD}, headers=bearer(admin))
        assert r.status_code == 201, r.text
        r = await http.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        token: str = r.json()["data"]["access_token"]
        return token


async def _until(listener: Listener, event: str, timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, payload in listener.events:
            if name == event:
                return payload
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event}; got {[e for e, _ in listener.events]}")


@pytest.mark.parametrize("mode", ["embedded", "scaled"])
async def test_a_client_follows_its_download_and_nobody_else_sees_it(mode: str, request: pytest.FixtureRequest,
                                                                     sources: dict[str, Path]) -> None:
    live: Live = request.getfixturevalue("live" if mode == "embedded" else "scaled")
    with MediaServer() as media:
        url = media.add_file("/media/big.mp4", sources["big"], "video/mp4")
        media.throttle("/media/big.mp4", 1_000_000)  # about 3 s: time to watch it move
        alice = await _user(live.base, live.admin, "alice")
        bob = await _user(live.base, live.admin, "bob")
        mine, other = await _listen(live.base, alice), await _listen(live.base, bob)
        try:
            async with httpx.AsyncClient(base_url=live.base) as http:
                r = await http.post("/api/v1/downloads", json={"url": url}, headers=bearer(alice))
                assert r.status_code == 202
                download_id = r.json()["data"]["id"]
            # Alice is in the download's room as well as her own: each event still arrives once.
            assert await mine.client.call("subscribe", {"room": f"download:{download_id}"}) == {
                "ok": True, "room": f"download:{download_id}"}
            assert (await other.client.call("subscribe", {"room": f"download:{download_id}"}))["ok"] is False
            completed = await _until(mine, "download:completed")
        finally:
            await mine.client.disconnect()
            await other.client.disconnect()
    assert completed["id"] == download_id and completed["status"] == "completed" and completed["percent"] == 100
    names = [e for e, _ in mine.named("download:")]
    assert names[0] == "download:queued" and names.count("download:completed") == 1
    assert names.count("download:started") == 1
    progress = [p for e, p in mine.named("download:progress")]
    assert len(progress) >= 2 and all(p["id"] == download_id for p in progress)
    assert [p["percent"] for p in progress] == sorted(p["percent"] for p in progress)
    assert set(progress[0]) >= {"id", "status", "phase", "percent", "downloaded_bytes", "total_bytes", "speed_bps",
                                "eta_s"}
    assert other.named("download:") == []  # Bob never hears of Alice's download


async def test_a_bad_or_missing_token_is_refused(live: Live) -> None:
    for auth in ({"token": "not-a-token"}, {}, {"token": live.admin + "x"}):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(live.base, auth=auth, transports=["websocket"], wait_timeout=10)
    listener = await _listen(live.base, live.admin)
    try:
        assert (await listener.client.call("subscribe", {"room": "user:999"}))["ok"] is False
        assert (await listener.client.call("subscribe", {"room": "status"}))["ok"] is True
    finally:
        await listener.client.disconnect()


async def test_an_api_key_connects_and_a_revoked_one_is_refused(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.base) as http:
        made = (await http.post("/api/v1/auth/api-keys", json={"name": "script"}, headers=bearer(live.admin))).json()
        key = made["data"]["key"]
        for how in ({"auth": {"api_key": key}}, {"headers": {"X-Api-Key": key}}):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(live.base, transports=["websocket"], wait_timeout=10, **how)
            try:
                assert (await client.call("subscribe", {"room": "status"}))["ok"] is True
            finally:
                await client.disconnect()
        r = await http.delete(f"/api/v1/auth/api-keys/{made['data']['id']}", headers=bearer(live.admin))
        assert r.status_code == 204
    for how in ({"auth": {"api_key": key}}, {"headers": {"X-Api-Key": key}}, {"auth": {"api_key": "mn_forged"}}):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(live.base, transports=["websocket"], wait_timeout=10, **how)
