"""The HTTP hardening around every route: security headers (HSTS only over https), CORS only for the
configured origins, the body size limit, the request timeout, and whose X-Forwarded-* is believed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from medianest.app import create_app
from medianest.audit.models import AuditEvent
from medianest.config import Settings
from tests.conftest import PASSWORD, Api, bearer

ORIGIN = "https://ui.example.org"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cors_origins": [ORIGIN], "max_body_bytes": 4096,
                                       "trusted_proxies": ["10.0.0.0/8"]})


@pytest.fixture
async def timed(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own with a short timeout and two slow routes: a 0.5 s limit on every test would
    trip over ordinary calls on a busy CI machine."""
    application = create_app(settings.model_copy(update={"request_timeout_s": 0.5}))

    async def slow(request: Request) -> dict[str, str]:
        await asyncio.sleep(float(request.query_params.get("s", "5")))
        return {"done": "yes"}

    async def slow_body() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first "
            await asyncio.sleep(0.8)  # longer than the timeout, after the answer started
            yield b"and the rest"

        return StreamingResponse(body())

    application.add_api_route("/test/slow", slow)  # a handler slower than the timeout
    application.add_api_route("/test/slow-body", slow_body)
    async with application.router.lifespan_context(application), client_from(application, "127.0.0.1") as client:
        yield client


def client_from(app: FastAPI, peer: str, scheme: str = "http") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 5555))
    return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver")


async def test_every_answer_carries_the_security_headers(api: Api) -> None:
    for path in ("/", "/static/js/main.js", "/health", "/api/v1/auth/me", "/api/v1/no-such-thing"):
        r = await api.client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["cross-origin-opener-policy"] == "same-origin-allow-popups"  # the Plex window
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "cdn.jsdelivr" not in csp
        assert "strict-transport-security" not in r.headers  # plain http
    docs = await api.client.get("/api/docs")
    assert "https:" not in docs.headers["content-security-policy"]  # Swagger UI is served from here too


async def test_media_bytes_carry_them_too(api: Api) -> None:
    admin = await api.setup_admin()
    await api.scan()
    item = (await api.all_media(admin))[0]
    r = await api.client.get(item["stream_url"], headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers["x-content-type-options"] == "nosniff"


async def test_hsts_only_over_https(app: FastAPI) -> None:
    async with client_from(app, "192.0.2.1", scheme="https") as direct:
        assert (await direct.get("/health")).headers["strict-transport-security"] == "max-age=31536000"
    async with client_from(app, "10.1.2.3") as proxy:  # a trusted proxy that terminated TLS
        r = await proxy.get("/health", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" in r.headers
    async with client_from(app, "192.0.2.1") as stranger:  # nobody else may claim https
        r = await stranger.get("/health", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in r.headers


async def test_only_a_trusted_proxy_names_the_client(app: FastAPI) -> None:
    async with client_from(app, "10.1.2.3") as proxy:
        r = await proxy.post("/api/v1/auth/login", json={"username": "x", "password": "wrong-password"},
                             headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.20, 10.9.9.9"})
        assert r.status_code == 401
    async with client_from(app, "192.0.2.1") as stranger:
        r = await stranger.post("/api/v1/auth/login", json={"username": "x", "password": "wrong-password"},
                                headers={"X-Forwarded-For": "203.0.113.66"})
        assert r.status_code == 401
    async with app.state.parts.sessions() as session:
        ips = (await session.scalars(select(AuditEvent.ip).order_by(AuditEvent.id))).all()
    # The rightmost address the proxy did not add itself; a stranger's header is ignored.
    assert ips == ["198.51.100.20", "192.0.2.1"]


async def test_cors_answers_the_configured_origin_only(api: Api) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = await api.client.options("/api/v1/auth/me", headers={"Origin": ORIGIN, **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    refused = await api.client.options("/api/v1/auth/me", headers={"Origin": "https://evil.example", **preflight})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    r = await api.client.get("/health", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN and "x-request-id" in \
        r.headers["access-control-expose-headers"].lower()


async def test_no_cors_unless_configured(settings: Settings) -> None:
    plain = create_app(settings.model_copy(update={"cors_origins": []}))
    async with plain.router.lifespan_context(plain), client_from(plain, "127.0.0.1") as client:
        r = await client.get("/health", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in r.headers


async def test_a_body_over_the_limit_is_refused_before_it_is_read(api: Api, app: FastAPI) -> None:
    admin = await api.setup_admin()
    big = {"name": "x" * 5000}
    r = await api.client.post("/api/v1/playlists", json=big, headers=bearer(admin))
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert r.json()["error"]["details"] == {"max_bytes": 4096}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"name": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    r = await api.client.post("/api/v1/playlists", content=chunks(),
                              headers={**bearer(admin), "Content-Type": "application/json"})
    assert r.status_code == 413
    r = await api.client.get("/api/v1/playlists", headers=bearer(admin))
    assert r.json()["meta"]["total"] == 0  # nothing half-made
    ok = await api.client.post("/api/v1/playlists", json={"name": "fits"}, headers=bearer(admin))
    assert ok.status_code == 201


async def test_a_slow_handler_times_out_with_503(timed: httpx.AsyncClient) -> None:
    r = await timed.get("/test/slow", params={"s": "5"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "UNAVAILABLE"
    assert r.json()["error"]["details"] == {"timeout_s": 0.5} and r.headers["retry-after"] == "5"
    assert r.headers["x-request-id"] == r.json()["error"]["request_id"]
    assert (await timed.get("/test/slow", params={"s": "0.01"})).json() == {"done": "yes"}


async def test_an_answer_may_take_longer_than_the_timeout_once_it_has_started(timed: httpx.AsyncClient) -> None:
    r = await timed.get("/test/slow-body")
    assert r.status_code == 200 and r.content == b"first and the rest"


async def test_failed_sign_ins_and_logins_are_audited(api: Api, app: FastAPI) -> None:
    await api.setup_admin("alice")
    await api.client.post("/api/v1/auth/login", json={"username": "alice", "password": "not-her-password"},
                          headers={"User-Agent": "curl/8"})
    await api.client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    async with app.state.parts.sessions() as session:
        rows = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        count = await session.scalar(select(func.count()).select_from(AuditEvent))
    assert [r.action for r in rows] == ["auth.setup", "auth.login_failed", "auth.login"] and count == 3
    failed = rows[1]
    assert failed.actor_id is None and failed.details == {"username": "alice"} and failed.user_agent == "curl/8"
    assert "not-her-password" not in str(failed.details) and failed.request_id
