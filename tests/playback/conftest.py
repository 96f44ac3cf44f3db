"""A scanned library with an admin and two ordinary users, A and B, for the playback tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Api, bearer


@dataclass
class Library:
    api: Api
    admin: str
    a: str
    b: str
    ids: dict[str, str]  # title -> media id

    async def get(self, token: str, path: str, **params: Any) -> Any:
        # Only pass params when given: httpx replaces a query string already in `path` with them.
        r = await self.api.client.get(path, params=params or None, headers=bearer(token))
        assert r.status_code == 200, r.text
        return r.json()

    async def item(self, token: str, title: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.get(token, f"/api/v1/media/{self.ids[title]}"))["data"]
        return body

    async def play(self, token: str, title: str, **body: Any) -> dict[str, Any]:
        url = f"/api/v1/media/{self.ids[title]}/plays"
        r = await self.api.client.post(url, json=body, headers=bearer(token))
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    async def titles(self, token: str, path: str) -> list[str]:
        return [i["title"] for i in (await self.get(token, path))["data"]]


@pytest.fixture
async def lib(api: Api) -> Library:
    admin = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    a = await api.create_user(admin, "alice")
    b = await api.create_user(admin, "bob")
    ids = {m["title"]: m["id"] for m in await api.all_media(admin)}
    return Library(api, admin, a, b, ids)
