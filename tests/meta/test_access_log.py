"""MEDIANEST_ACCESS_LOG: one JSON line per request from RequestObserver - method, path, status, duration,
client and request id - never the query string (media URLs carry a `?token=`), written whatever the log
level; nothing when it is off."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import Api, bearer

Started = Callable[..., AbstractAsyncContextManager[tuple[Api, FastAPI]]]


@pytest.fixture
def started(settings: Settings) -> Started:
    @asynccontextmanager
    async def start(**changes: Any) -> AsyncIterator[tuple[Api, FastAPI]]:
        app = create_app(settings.model_copy(update={"log_format": "json", **changes}))

        async def explode() -> None:
            raise RuntimeError("boom")

        app.add_api_route("/test/explode", explode)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("192.0.2.7", 4321))
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                        base_url="http://t") as client:
            yield Api(client, app), app

    return start


def _access_lines(err: str) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [r for r in records if r.get("logger") == "medianest.access"]


async def test_each_request_is_one_line_without_its_query(started: Started, capfd: pytest.CaptureFixture[str]) -> None:
    async with started(access_log=True, log_level="WARNING") as (api, _):
        admin = await api.setup_admin()
        await api.scan()
        item = (await api.all_media(admin))[0]
        token = parse_qs(urlsplit(item["stream_url"]).query)["token"][0]
        capfd.readouterr()
        r = await api.client.get(item["stream_url"], headers={"Range": "bytes=0-3", "X-Request-ID": "play-1"})
        assert r.status_code == 206
        r = await api.client.get("/api/v1/media/999999/stream", params={"token": token},
                                 headers={"X-Request-ID": "gone-1"})
        assert r.status_code == 401  # the token is for another item
        r = await api.client.get("/test/explode", headers={"X-Request-ID": "boom-1"})
        assert r.status_code == 500
        await api.client.get("/api/v1/playlists", headers={**bearer(admin), "X-Request-ID": "list-1"})
    err = capfd.readouterr().err
    lines = {line["request_id"]: line for line in _access_lines(err)}
    assert lines["play-1"] | {"duration_ms": 0} == {
        "event": "request", "method": "GET", "path": f"/api/v1/media/{item['id']}/stream", "status": 206,
        "client": "192.0.2.7", "request_id": "play-1", "level": "info", "logger": "medianest.access",
        "timestamp": lines["play-1"]["timestamp"], "duration_ms": 0}
    assert lines["gone-1"]["status"] == 401 and lines["gone-1"]["path"] == "/api/v1/media/999999/stream"
    assert lines["boom-1"]["status"] == 500
    assert lines["list-1"]["status"] == 200
    assert token not in err and "token=" not in err


async def test_no_access_log_unless_asked(started: Started, capfd: pytest.CaptureFixture[str]) -> None:
    async with started(log_level="INFO") as (api, _):
        capfd.readouterr()
        assert (await api.client.get("/api/v1/version")).status_code == 200
    assert _access_lines(capfd.readouterr().err) == []
