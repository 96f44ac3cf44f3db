"""Rooms name things by id: ids are never reused (SQLite AUTOINCREMENT), and deleting a thing empties its
room in every server process, so nobody is left listening where someone else's events could arrive."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from medianest.config import Settings
from medianest.events import LogNotifier, LoopBridge
from medianest.realtime.notifier import RedisNotifier
from tests.conftest import CHEAP_PASSWORDS, Api, bearer
from tests.downloads.mediaserver import MediaServer, make_video
from tests.realtime.conftest import REDIS_URL, Instances, Socket, connect, until, user_id


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    library = tmp_path / "library"
    library.mkdir()
    return Settings(data_dir=tmp_path / "data", media_dirs=[library], database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING",
                    downloads_allow_private_networks=True, rate_limits_enabled=False, **CHEAP_PASSWORDS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("rooms") / "clip.mp4", seconds=1, title="Clip")


@pytest.fixture
def media(clip: Path) -> Iterator[str]:
    with MediaServer() as server:
        yield server.add_file("/media/clip.mp4", clip, "video/mp4")


async def _download(api: Api, token: str, url: str) -> str:
    r = await api.client.post("/api/v1/downloads", json={"url": url}, headers=bearer(token))
    assert r.status_code == 202, r.text
    download_id: str = r.json()["data"]["id"]
    return download_id


async def _finished(api: Api, token: str, download_id: str) -> None:
    async def done() -> bool:
        r = await api.client.get(f"/api/v1/downloads/{download_id}", headers=bearer(token))
        return r.json()["data"]["status"] in ("completed", "failed", "canceled")
    await until(done, f"download {download_id} to finish")


async def _remove(api: Api, token: str, download_id: str) -> None:
    """Cancel it if it still runs, then remove it from the list."""
    r = await api.client.delete(f"/api/v1/downloads/{download_id}", headers=bearer(token))
    if r.status_code == 200:  # it was canceled; now it is finished
        r = await api.client.delete(f"/api/v1/downloads/{download_id}", headers=bearer(token))
    assert r.status_code == 204, r.text
    r = await api.client.get(f"/api/v1/downloads/{download_id}", headers=bearer(token))
    assert r.status_code == 404


def _rooms(app: FastAPI, sock: Socket) -> list[str]:
    rooms: list[str] = app.state.parts.notifier.sio.rooms(sock.client.get_sid())
    return rooms


def _ids(sock: Socket) -> set[Any]:
    return {payload.get("id") for _, payload in sock.events if isinstance(payload, dict)}


async def test_a_removed_download_empties_its_room_and_its_id_is_never_reused(
        api: Api, app: FastAPI, live: str, media: str) -> None:
    admin = await api.setup_admin()
    alice, bob = await api.create_user(admin, "alice"), await api.create_user(admin, "bob")
    first = await _download(api, alice, media)
    mine = await _download(api, bob, media)
    assert (first, mine) == ("1", "2")
    bobs = await connect(live, {"token": bob})
    alices: Socket | None = None
    try:
        assert (await bobs.client.call("subscribe", {"room": "download:2"}))["ok"] is True
        assert "download:2" in _rooms(app, bobs)
        await _finished(api, bob, mine)
        await _remove(api, bob, mine)
        assert "download:2" not in _rooms(app, bobs)
        alices = await connect(live, {"token": alice})
        third = await _download(api, alice, media)
        assert third == "3"
        await until(lambda: any(e == "download:completed" for e, _ in alices.events), "Alice's download to end")
    finally:
        await bobs.close()
        if alices is not None:
            await alices.close()
    assert "3" not in _ids(bobs)


async def test_a_room_closed_in_one_process_is_emptied_in_another(two_instances: Instances) -> None:
    """Through the app (a download removed on the first instance) and through the worker's notifier."""
    api, second = two_instances.api, two_instances.second
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    removed = await _download(api, bob, "http://127.0.0.1:9/never-fetched.mp4")
    closed = await _download(api, bob, "http://127.0.0.1:9/never-fetched.mp4")
    sock = await connect(two_instances.base, {"token": bob})
    try:
        for download_id in (removed, closed):
            assert (await sock.client.call("subscribe", {"room": f"download:{download_id}"}))["ok"] is True
        await _remove(api, bob, removed)
        await until(lambda: f"download:{removed}" not in _rooms(second, sock), "the room to empty elsewhere")
        assert REDIS_URL
        await RedisNotifier(REDIS_URL).close_room(f"download:{closed}")
        await until(lambda: f"download:{closed}" not in _rooms(second, sock), "the worker's close to arrive")
        assert f"user:{await user_id(api.client, bob)}" in _rooms(second, sock)  # the socket itself stays
    finally:
        await sock.close()


async def test_a_room_closed_from_a_job_thread_reaches_the_serving_loop() -> None:
    inner = LogNotifier()
    bridge = LoopBridge(inner, asyncio.get_running_loop())
    thread = threading.Thread(target=lambda: asyncio.run(bridge.close_room("download:7")))
    thread.start()
    await until(lambda: not thread.is_alive(), "the job thread to finish")
    assert list(inner.closed_rooms) == ["download:7"]
