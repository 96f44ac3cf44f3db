"""A scanned fixture library and an admin token, shared by the streaming tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from medianest.api.fastpath import StreamFastPath
from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import Api, bearer


@dataclass
class Library:
    api: Api
    token: str
    items: dict[str, dict[str, Any]]  # title -> media item as the admin sees it
    files: dict[str, Path]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    def item(self, title: str) -> dict[str, Any]:
        return self.items[title]

    async def stream(self, title: str, headers: dict[str, str] | None = None, method: str = "GET",
                     **params: str) -> httpx.Response:
        """The item's bytes through its signed `stream_url` (the path an <audio src> takes)."""
        url = self.items[title]["stream_url"]
        if params:  # httpx's params= would replace the token already in the query
            url += "&" + urlencode(params)
        return await self.client.request(method, url, headers=headers or {})

    async def stream_bearer(self, title: str, headers: dict[str, str] | None = None,
                            method: str = "GET") -> httpx.Response:
        """The item's bytes with the admin's access token instead of the media token."""
        url = f"/api/v1/media/{self.items[title]['id']}/stream"
        return await self.client.request(method, url, headers={**bearer(self.token), **(headers or {})})


@pytest.fixture(params=["route", "fast path"])
async def app(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[FastAPI]:
    """Every streaming test runs against the plain route and against `medianest serve`'s fast path."""
    application = create_app(settings)
    if request.param == "route":  # create_app installs the fast path; take it out to test the route alone
        application.user_middleware = [m for m in application.user_middleware if m.cls is not StreamFastPath]
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def library(api: Api, media_files: dict[str, Path]) -> Library:
    token = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    items = {item["title"]: item for item in await api.all_media(token)}
    return Library(api, token, items, media_files)
