"""Rate limits through the API, in memory and on the real Redis (CI sets MEDIANEST_TEST_REDIS_URL):
the per-user API limit with its `RateLimit-*` headers, and failed sign-ins per address and per account."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings
from medianest.security.limits import RateLimits
from tests.conftest import PASSWORD, Api, bearer

REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL")
BACKENDS = ["memory", "redis"] if REDIS_URL or os.environ.get("CI") else ["memory"]
LOGIN = "/api/v1/auth/login"


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    update: dict[str, object] = {"api_rate_limit": "3/minute", "trusted_proxies": ["127.0.0.1"]}
    if request.param == "redis":
        assert REDIS_URL, "CI must set MEDIANEST_TEST_REDIS_URL"
        request.getfixturevalue("redis_socketio_turn")  # the app's Socket.IO goes through Redis too
        # A queue name of its own: the counters live under it, apart from other runs on the same Redis.
        update |= {"redis_url": REDIS_URL, "queue_name": f"medianest-test-{secrets.token_hex(4)}"}
    return settings.model_copy(update=update)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}  # the test client is 127.0.0.1, a trusted proxy here


async def test_the_api_limit_counts_per_user_and_says_so(api: Api) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    remaining = []
    for _ in range(3):
        r = await api.client.get("/api/v1/auth/me", headers=bearer(alice))
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "3" and r.headers["ratelimit-policy"] == "3;w=60"
        remaining.append(int(r.headers["ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    r = await api.client.get("/api/v1/auth/me", headers=bearer(alice))
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(r.headers["retry-after"]) <= 60 and r.headers["ratelimit-remaining"] == "0"
    assert int(r.headers["ratelimit-reset"]) == int(r.headers["retry-after"])
    other = await api.client.get("/api/v1/auth/me", headers=bearer(admin))
    assert other.status_code == 200  # the admin's own window is untouched


async def test_an_answer_without_a_body_carries_the_counters_too(api: Api) -> None:
    admin = await api.setup_admin()
    key = (await api.client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=bearer(admin))).json()["data"]
    r = await api.client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=bearer(admin))
    assert r.status_code == 204 and r.headers["ratelimit-remaining"] == "1"  # two of three used


async def test_api_keys_count_against_their_owner(api: Api) -> None:
    admin = await api.setup_admin()
    key = (await api.client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=bearer(admin))).json()["data"]
    statuses = [(await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": key["key"]})).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]  # the bearer call that made the key was the first of three


async def test_failed_sign_ins_are_limited_per_address(api: Api) -> None:
    await api.setup_admin("alice")
    for n in range(5):
        r = await api.client.post(LOGIN, json={"username": f"nobody{n}", "password": "wrong-password"},
                                  headers=from_ip("198.51.100.7"))
        assert r.status_code == 401
    right = {"username": "alice", "password": PASSWORD}
    r = await api.client.post(LOGIN, json=right, headers=from_ip("198.51.100.7"))
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 15 * 60  # even the right password waits
    assert r.headers["ratelimit-limit"] == "5"
    assert (await api.client.post(LOGIN, json=right, headers=from_ip("198.51.100.8"))).status_code == 200


async def test_failed_sign_ins_are_limited_per_account_across_addresses(api: Api) -> None:
    await api.setup_admin("alice")
    for n in range(5):
        r = await api.client.post(LOGIN, json={"username": "Alice", "password": "wrong-password"},
                                  headers=from_ip(f"203.0.113.{n}"))
        assert r.status_code == 401
    r = await api.client.post(LOGIN, json={"username": "alice", "password": PASSWORD}, headers=from_ip("203.0.113.99"))
    assert r.status_code == 429
    r = await api.client.post(LOGIN, json={"username": "nobody", "password": "wrong-password"},
                              headers=from_ip("203.0.113.99"))
    assert r.status_code == 401  # another account from a fresh address is still only a wrong password


async def test_successful_sign_ins_are_not_counted(api: Api) -> None:
    await api.setup_admin("alice")
    for _ in range(8):
        assert (await api.client.post(LOGIN, json={"username": "alice", "password": PASSWORD})).status_code == 200


async def test_limits_can_be_turned_off(settings: Settings) -> None:
    limits = RateLimits(settings.model_copy(update={"rate_limits_enabled": False}))
    for _ in range(10):
        assert await limits.hit("api", "1") is None
    await limits.check("auth", "ip:1")


@pytest.mark.skipif(not REDIS_URL and not os.environ.get("CI"), reason="needs MEDIANEST_TEST_REDIS_URL")
async def test_two_instances_on_one_redis_count_together(settings: Settings) -> None:
    assert REDIS_URL
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "queue_name": f"mn-{secrets.token_hex(4)}"})
    first, second = RateLimits(shared), RateLimits(shared)
    for _ in range(3):
        await first.hit("api", "42")
    window = await second.window("api", "42")
    assert window.remaining == 0
    with pytest.raises(Exception, match="too many"):
        await second.hit("api", "42")
    apart = RateLimits(shared.model_copy(update={"queue_name": f"mn-{secrets.token_hex(4)}"}))
    assert (await apart.window("api", "42")).remaining == 3


async def test_the_openapi_document_lists_429_on_limited_operations(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert "429" in paths["/api/v1/auth/me"]["get"]["responses"]
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]
    assert "413" in paths["/api/v1/playlists"]["post"]["responses"]
    assert "429" not in paths["/health"]["get"]["responses"]
