"""Every failure in the error envelope, request ids, health and version."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from medianest.library import listing
from tests.conftest import Api, bearer


async def test_unknown_route_and_method_use_the_envelope(api: Api) -> None:
    r = await api.client.get("/api/v1/does-not-exist")
    assert r.status_code == 404
    body = r.json()["error"]
    assert body["code"] == "NOT_FOUND" and body["request_id"] == r.headers["x-request-id"]
    r = await api.client.put("/api/v1/version")
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_request_ids_are_echoed_only_when_sane(api: Api) -> None:
    r = await api.client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    r = await api.client.get("/health", headers={"X-Request-ID": "bad id with spaces <script>"})
    assert r.headers["x-request-id"] != "bad id with spaces <script>" and len(r.headers["x-request-id"]) == 32


async def test_malformed_json_is_a_validation_error(api: Api) -> None:
    r = await api.client.post("/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_an_unexpected_error_is_a_500_that_leaks_nothing(
        app: FastAPI, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = await api.setup_admin()

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(listing, "list_media", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/api/v1/media", headers=bearer(token))
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "INTERNAL_ERROR" and "secret" not in r.text and "passwd" not in r.text
    assert error["request_id"] and r.headers["x-request-id"] == error["request_id"]


async def test_health_and_version(api: Api) -> None:
    health = (await api.client.get("/health")).json()
    assert health["status"] == "ok" and health["checks"]["database"]["status"] == "ok"
    version = (await api.client.get("/api/v1/version")).json()["data"]
    assert version["name"] == "medianest" and version["database"] in ("sqlite", "postgresql")


async def test_health_is_503_when_the_database_is_gone(app: FastAPI, api: Api) -> None:
    async def broken() -> None:
        raise OSError("database unreachable")

    class Broken:
        async def __aenter__(self) -> None:
            await broken()

        async def __aexit__(self, *exc: object) -> None:
            return None

    original = app.state.parts.sessions
    app.state.parts.sessions = lambda: Broken()
    try:
        r = await api.client.get("/health")
    finally:
        app.state.parts.sessions = original
    assert r.status_code == 503
    assert r.json()["checks"]["database"]["status"] == "fail"


async def test_nul_characters_are_refused_before_they_reach_the_database(api: Api) -> None:
    token = await api.setup_admin()
    r = await api.client.get("/api/v1/media", params={"q": "a\x00b"}, headers=bearer(token))
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "q"
    r = await api.client.post("/api/v1/users", json={"username": "x", "password": "pass\x00word-long"},
                              headers=bearer(token))
    assert r.status_code == 422
    r = await api.client.get("/api/v1/users/1%00", headers=bearer(token))
    assert r.status_code in (404, 422)


def test_domain_errors_know_nothing_of_http_and_the_mapping_names_each_one() -> None:
    """errors.py is core: no status on any error; api/errors.py gives every one of them its own."""
    from medianest import errors as domain
    from medianest.api.errors import STATUS

    classes = {c for c in vars(domain).values() if isinstance(c, type) and issubclass(c, domain.DomainError)}
    assert [c.__name__ for c in classes if hasattr(c, "status")] == []
    assert classes == set(STATUS)
    assert (STATUS[domain.NotFound], STATUS[domain.RateLimited], STATUS[domain.DatabaseBusy]) == (404, 429, 503)
