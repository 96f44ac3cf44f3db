"""Methods on every path: OPTIONS answers which methods a path takes, a 405 lists all of them (every route
sharing the path, not the first one found), HEAD works wherever GET does, and CORS preflights still get
the CORS answer when origins are configured."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import Api, bearer


def _allow(header: str) -> set[str]:
    return {m.strip() for m in header.split(",") if m.strip()}


def _expected(methods: set[str]) -> set[str]:
    methods = {m.upper() for m in methods} | {"OPTIONS"}
    return methods | {"HEAD"} if "GET" in methods else methods


def _paths(app: FastAPI) -> dict[str, set[str]]:
    spec: dict[str, Any] = app.openapi()
    return {path: set(ops) for path, ops in spec["paths"].items()}


async def test_options_lists_every_method_of_every_path(api: Api, app: FastAPI) -> None:
    for template, methods in _paths(app).items():
        r = await api.client.options(re.sub(r"\{[^}]+\}", "1", template))
        assert r.status_code == 204, (template, r.status_code, r.text)
        assert _allow(r.headers["allow"]) == _expected(methods), template
        assert r.content == b"" and r.headers["x-request-id"]  # still seen by the request middleware


async def test_options_on_the_web_ui_and_its_files(api: Api) -> None:
    for path in ("/", "/static/js/main.js", "/api/openapi.json"):
        r = await api.client.options(path)
        assert r.status_code == 204 and _allow(r.headers["allow"]) == {"GET", "HEAD", "OPTIONS"}, path


async def test_options_on_an_unknown_path_is_404(api: Api) -> None:
    r = await api.client.options("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/api/v1/playlists/1", {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}),
    ("PATCH", "/api/v1/users", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("GET", "/api/v1/auth/login", {"POST", "OPTIONS"}),
    ("HEAD", "/api/v1/auth/login", {"POST", "OPTIONS"}),
    ("TRACE", "/api/v1/media/1/like", {"PUT", "DELETE", "OPTIONS"}),
    ("POST", "/static/js/main.js", {"GET", "HEAD", "OPTIONS"}),
])
async def test_a_405_lists_every_method_the_path_takes(api: Api, method: str, path: str, allowed: set[str]) -> None:
    r = await api.client.request(method, path)
    assert r.status_code == 405
    assert _allow(r.headers["allow"]) == allowed
    if method != "HEAD":
        assert r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_head_answers_like_get_without_the_body(api: Api) -> None:
    admin = await api.setup_admin()
    for path, headers in (("/api/v1/version", {}), ("/api/v1/playlists", bearer(admin)), ("/", {})):
        get = await api.client.get(path, headers=headers)
        head = await api.client.head(path, headers=headers)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"], path
        assert head.headers["content-length"] == get.headers["content-length"], path
    r = await api.client.head("/api/v1/playlists")  # the GET's own checks still apply
    assert r.status_code == 401


@pytest.fixture
def cors_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cors_origins": ["https://ui.example.org"]})


async def test_a_cors_preflight_still_gets_the_cors_answer(cors_settings: Settings) -> None:
    app = create_app(cors_settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        preflight = {"Origin": "https://ui.example.org", "Access-Control-Request-Method": "PATCH"}
        r = await client.options("/api/v1/playlists/1", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://ui.example.org"
        assert "PATCH" in r.headers["access-control-allow-methods"]
        # An OPTIONS that is not a preflight is answered with Allow, and the origin may still read it.
        r = await client.options("/api/v1/playlists/1", headers={"Origin": "https://ui.example.org"})
        assert r.status_code == 204 and _allow(r.headers["allow"]) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
        assert r.headers["access-control-allow-origin"] == "https://ui.example.org"
