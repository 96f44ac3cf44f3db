"""Subscription tests: a local "channel" (a page of media that yt-dlp's generic extractor reads as a
playlist) and a podcast feed server, both on 127.0.0.1; the app's own queue consumer downloads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from medianest.config import Settings
from medianest.events import LogNotifier
from medianest.library.artwork import Artwork
from medianest.subscriptions.checks import Checked, Checker
from medianest.subscriptions.feeds import feed_client
from tests.conftest import Api, bearer, make_settings
from tests.downloads.mediaserver import MediaServer, make_audio
from tests.subscriptions.feedserver import FeedServer

TRACKS = ("a", "b", "c", "d", "e", "f")


@pytest.fixture(scope="session")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("subscription-sources")
    return {name: make_audio(root / f"{name}.mp3", seconds=1, title=f"Track {name.upper()}") for name in TRACKS}


@pytest.fixture
def server(tracks: dict[str, Path]) -> Iterator[MediaServer]:
    with MediaServer() as media:
        for name, path in tracks.items():
            media.add_file(f"/media/{name}.mp3", path, "audio/mpeg")
        yield media


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    library = tmp_path / "library"
    library.mkdir()
    return make_settings(tmp_path, library, database_url, downloads_allow_private_networks=True,
                         downloads_retry_backoff_s=0.2, downloads_stale_after_s=4, api_rate_limit="100000/minute",
                         subscriptions_min_interval_s=60)


def channel(server: MediaServer, *names: str, path: str = "/channel") -> str:
    """The channel page listing `names`, newest first (a channel's order), as `<video>` tags."""
    videos = "".join(f"<video src='{server.url(f'/media/{n}.mp3')}'></video>" for n in names)
    return server.add_bytes(path, f"<html><title>My Channel</title><body>{videos}</body></html>".encode(),
                            "text/html; charset=utf-8")


async def subscribe(api: Api, token: str, url: str, **body: Any) -> dict[str, Any]:
    r = await api.client.post("/api/v1/subscriptions", json={"url": url, **body}, headers=bearer(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def read(api: Api, token: str, sub_id: str) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/subscriptions/{sub_id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def checked(api: Api, token: str, sub_id: str, after: str | None = None, timeout_s: float = 60,
                  ) -> dict[str, Any]:
    """The subscription once a check later than `after` has finished (a deadline against hangs)."""
    deadline = time.monotonic() + timeout_s
    while True:
        sub = await read(api, token, sub_id)
        if sub["checked_at"] and sub["checked_at"] != after and not sub["checking"]:
            return sub
        assert time.monotonic() < deadline, sub
        await asyncio.sleep(0.1)


async def downloads_of(api: Api, token: str, statuses: tuple[str, ...] = ("completed", "failed", "canceled"),
                       count: int | None = None, timeout_s: float = 90) -> list[dict[str, Any]]:
    """The user's downloads once all are in `statuses` (and, when given, there are `count` of them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = await api.client.get("/api/v1/downloads?per_page=100", headers=bearer(token))
        rows: list[dict[str, Any]] = r.json()["data"]
        if all(d["status"] in statuses for d in rows) and (count is None or len(rows) == count):
            return rows
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.1)


def checker(app: FastAPI, settings: Settings, kind: type[Checker] = Checker) -> Any:
    """A check as a separate worker would run it: its own event loop, database engine and client, in a
    thread of its own; returns a function of a subscription id. `kind` may be a Checker made to fail."""
    from medianest.db.engine import create_engine, create_session_factory

    parts = app.state.parts

    def run(sub_id: int) -> Checked | None:
        async def go() -> Checked | None:
            engine = create_engine(settings.db_url)
            try:
                async with feed_client(settings) as http:
                    one = kind(settings, create_session_factory(engine), http, parts.downloads.queue,
                                  LogNotifier(), Artwork(settings.artwork_dir))
                    return await one.check(sub_id, force=True)
            finally:
                await engine.dispose()
        return asyncio.run(go())
    return run
