"""A scanned fixture library and an admin token, shared by the streaming tests.

Every test runs against the plain route and against `medianest serve`'s fast path (`variant`), on each
database backend (`backend`). Both parameters are per module, so tests that only read share one `library`
per module, variant and backend; tests that change theirs (delete or edit items, take files or folders
away) take `own_library`, a world of their own (with the same two parameters).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from medianest.api.fastpath import StreamFastPath
from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import BACKENDS, Api, MigratedTemplates, bearer, make_settings, migrated_database, serving
from tests.media import copy_library

VARIANTS = ["route", "fast path"]


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


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    """The plain route, or `medianest serve`'s fast path in front of it."""
    return str(request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _create_app(settings: Settings, variant: str) -> FastAPI:
    application = create_app(settings)
    if variant == "route":  # create_app installs the fast path; take it out to test the route alone
        application.user_middleware = [m for m in application.user_middleware if m.cls is not StreamFastPath]
    return application


async def _scanned(api: Api, files: dict[str, Path]) -> Library:
    token = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    items = {item["title"]: item for item in await api.all_media(token)}
    return Library(api, token, items, files)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def library(variant: str, backend: str, tmp_path_factory: pytest.TempPathFactory,
                  media_source: tuple[Path, dict[str, str]],
                  migrated_templates: MigratedTemplates) -> AsyncIterator[Library]:
    """One world per module, variant and backend, for tests that only read it (they run in the module's
    event loop: see pytest_collection_modifyitems below)."""
    root = tmp_path_factory.mktemp("streaming")
    media = root / "media"
    copy_library(media_source[0], media)
    async with migrated_database(backend, root, migrated_templates) as url, \
            serving(_create_app(make_settings(root, media, url), variant)) as api:
        yield await _scanned(api, {name: media / rel for name, rel in media_source[1].items()})


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, migrated_templates: MigratedTemplates) -> AsyncIterator[str]:
    async with migrated_database(backend, tmp_path, migrated_templates) as url:
        yield url


@pytest.fixture
async def app(variant: str, settings: Settings) -> AsyncIterator[FastAPI]:
    application = _create_app(settings, variant)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def own_library(api: Api, media_files: dict[str, Path]) -> Library:
    """A world of the test's own, for tests that change it."""
    return await _scanned(api, media_files)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the module-wide `library` run in the module's event loop, where it was made."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and "library" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asyncio(loop_scope="module"), append=False)
