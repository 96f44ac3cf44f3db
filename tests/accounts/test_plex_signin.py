"""Sign in with Plex, end to end against the plex.tv stand-in on 127.0.0.1: PIN, approval, polling,
linking by Plex id, the sealed token, and plex.tv being slow, failing, talking garbage or gone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from medianest.accounts.models import PlexPin, User
from medianest.accounts.plex_signin import plex_client_id, plex_token_context
from medianest.audit.models import AuditEvent
from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.security.crypto import SecretBox
from tests.accounts.plextv import PlexTv, PlexUser, auth_url_params, running
from tests.conftest import Api, bearer

PINS = "/api/v1/auth/plex/pins"


@pytest.fixture
def tv() -> Iterator[PlexTv]:
    with running() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, tv: PlexTv) -> Settings:
    return settings.model_copy(update={"plex_tv_url": tv.url, "plex_timeout_s": 2.0})


async def start(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post(PINS)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def poll(client: httpx.AsyncClient, pin: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    r = await client.get(f"{PINS}/{pin['id']}")
    assert r.status_code == expect, r.text
    body: dict[str, Any] = r.json()
    return body["data"] if expect == 200 else body["error"]


def plex_pin_id(tv: PlexTv, pin: dict[str, Any]) -> int:
    return next(p.id for p in tv.pins.values() if p.code == pin["code"])


async def sign_in(client: httpx.AsyncClient, tv: PlexTv, person: PlexUser) -> dict[str, Any]:
    pin = await start(client)
    tv.authorize(pin["code"], person)
    status = await poll(client, pin)
    assert status["status"] == "authorized", status
    return status


async def test_first_plex_user_becomes_admin_and_the_tokens_work(client: httpx.AsyncClient, tv: PlexTv,
                                                                settings: Settings) -> None:
    person = tv.add_user("Alice Plex", email="alice@example.org")
    pin = await start(client)
    params = auth_url_params(pin["auth_url"])
    assert pin["auth_url"].startswith("https://app.plex.tv/auth#?")
    assert params["code"] == pin["code"] and params["clientID"] == plex_client_id(settings.secret_key)
    assert params["context[device][product]"] == "MediaNest"
    assert (await poll(client, pin))["status"] == "waiting"
    tv.authorize(pin["code"], person)
    status = await poll(client, pin)
    assert status["status"] == "authorized" and status["token_type"] == "bearer"
    assert status["user"]["username"] == "Alice_Plex" and status["user"]["role"] == "admin"
    me = await client.get("/api/v1/auth/me", headers=bearer(status["access_token"]))
    assert me.status_code == 200 and me.json()["data"]["id"] == status["user"]["id"]
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": status["refresh_token"]})
    assert refreshed.status_code == 200


async def test_a_pin_gives_tokens_once(client: httpx.AsyncClient, tv: PlexTv) -> None:
    person = tv.add_user()
    pin = await start(client)
    tv.authorize(pin["code"], person)
    assert (await poll(client, pin))["status"] == "authorized"
    again = await poll(client, pin)
    assert again == {"status": "expired", "access_token": None, "refresh_token": None, "token_type": None,
                     "expires_in": None, "user": None}


async def test_every_call_names_this_server_the_same_way_and_no_token_goes_in_a_url(
        client: httpx.AsyncClient, tv: PlexTv, settings: Settings) -> None:
    person = tv.add_user()
    await sign_in(client, tv, person)
    await sign_in(client, tv, person)
    ids = {r.headers.get("x-plex-client-identifier") for r in tv.requests}
    assert ids == {plex_client_id(settings.secret_key)}
    assert {r.headers.get("x-plex-product") for r in tv.requests} == {"MediaNest"}
    user_calls = [r for r in tv.requests if r.path == "/api/v2/user"]
    assert len(user_calls) == 2 and all(r.headers["x-plex-token"] == person.auth_token for r in user_calls)
    assert not any(person.auth_token in str(r.query) for r in tv.requests)
    assert all(r.query.get("strong") == ["true"] for r in tv.requests if r.method == "POST")


async def test_the_plex_token_is_stored_sealed_and_never_shown(client: httpx.AsyncClient, app: FastAPI, tv: PlexTv,
                                                               settings: Settings) -> None:
    person = tv.add_user()
    status = await sign_in(client, tv, person)
    async with app.state.parts.sessions() as session:
        user = await session.scalar(select(User).where(User.plex_id == str(person.id)))
        assert user is not None and user.plex_token is not None
        assert person.auth_token.encode() not in user.plex_token
        box = SecretBox(settings.secret_key)
        assert box.open(user.plex_token, plex_token_context(user.id)) == person.auth_token
        events = (await session.scalars(select(AuditEvent))).all()
        raw = (await session.execute(text("SELECT plex_token FROM users"))).scalars().all()
    assert all(person.auth_token.encode() not in bytes(v) for v in raw if v)
    assert all(person.auth_token not in str(e.details) for e in events)
    assert person.auth_token not in str(status)
    me = await client.get("/api/v1/auth/me", headers=bearer(status["access_token"]))
    assert person.auth_token not in me.text


async def test_the_same_plex_account_finds_its_user_and_never_takes_a_local_namesake(
        api: Api, tv: PlexTv, app: FastAPI) -> None:
    admin = await api.setup_admin("bob")
    person = tv.add_user("bob")  # someone at plex.tv chose the name of our local admin
    first = await sign_in(api.client, tv, person)
    assert first["user"]["username"] == "bob-plex" and first["user"]["role"] == "user"
    second = await sign_in(api.client, tv, person)
    assert second["user"]["id"] == first["user"]["id"]
    me = await api.client.get("/api/v1/auth/me", headers=bearer(admin))
    assert me.json()["data"]["username"] == "bob" and me.json()["data"]["role"] == "admin"
    async with app.state.parts.sessions() as session:
        assert await session.scalar(select(User.plex_id).where(User.username == "bob")) is None


async def test_without_signup_an_unknown_plex_account_is_refused(api: Api, tv: PlexTv, app: FastAPI) -> None:
    await api.setup_admin()
    app.state.parts.plex_sign_in = app.state.parts.plex_sign_in.__class__(
        **{**app.state.parts.plex_sign_in.__dict__, "signup": False})
    pin = await start(api.client)
    tv.authorize(pin["code"], tv.add_user("stranger"))
    error = await poll(api.client, pin, expect=403)
    assert error["code"] == "FORBIDDEN" and "ask an admin" in error["message"]
    async with app.state.parts.sessions() as session:
        assert await session.scalar(select(User).where(User.username == "stranger")) is None
        row = await session.scalar(select(PlexPin))
        assert row is not None and row.used_at is None  # refused, not consumed
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "auth.plex_login_refused" in actions


async def test_a_suspended_plex_user_is_refused(api: Api, tv: PlexTv) -> None:
    admin = await api.setup_admin()
    person = tv.add_user()
    user = (await sign_in(api.client, tv, person))["user"]
    r = await api.client.patch(f"/api/v1/users/{user['id']}", json={"status": "suspended"}, headers=bearer(admin))
    assert r.status_code == 200
    pin = await start(api.client)
    tv.authorize(pin["code"], person)
    assert (await poll(api.client, pin, expect=403))["code"] == "FORBIDDEN"


async def test_expired_and_unknown_pins(client: httpx.AsyncClient, tv: PlexTv) -> None:
    pin = await start(client)
    tv.expire(plex_pin_id(tv, pin))  # plex.tv forgets it: 404 there
    assert (await poll(client, pin))["status"] == "expired"
    assert (await poll(client, {"id": "no-such-pin"}, expect=404))["code"] == "NOT_FOUND"
    assert (await poll(client, {"id": str(plex_pin_id(tv, pin))}, expect=404))["code"] == "NOT_FOUND"


async def test_our_own_expiry_needs_no_call_to_plex(client: httpx.AsyncClient, tv: PlexTv, app: FastAPI) -> None:
    pin = await start(client)
    async with app.state.parts.sessions() as session:
        row = await session.scalar(select(PlexPin).where(PlexPin.handle == pin["id"]))
        assert row is not None
        row.expires_at = row.created_at
        await session.commit()
    tv.reset_log()
    assert (await poll(client, pin))["status"] == "expired"
    assert tv.requests == []


async def test_long_expired_pins_are_cleared_when_a_new_one_starts(client: httpx.AsyncClient, app: FastAPI) -> None:
    old, recent = await start(client), await start(client)
    async with app.state.parts.sessions() as session:
        for handle, age in ((old["id"], timedelta(days=2)), (recent["id"], timedelta(hours=1))):
            row = await session.scalar(select(PlexPin).where(PlexPin.handle == handle))
            assert row is not None
            row.expires_at = utcnow() - age
        await session.commit()
    await start(client)
    assert (await poll(client, old, expect=404))["code"] == "NOT_FOUND"
    assert (await poll(client, recent))["status"] == "expired"


@pytest.mark.parametrize(("fault", "status", "code"), [
    ("slow", 504, "UPSTREAM_TIMEOUT"), ("error", 502, "UPSTREAM_ERROR"), ("garbage", 502, "UPSTREAM_ERROR"),
    ("drop", 502, "UPSTREAM_ERROR"),
])
async def test_plex_tv_failing_is_a_clear_upstream_error_and_leaves_nothing(
        client: httpx.AsyncClient, tv: PlexTv, app: FastAPI, fault: str, status: int, code: str) -> None:
    person = tv.add_user()
    pin = await start(client)
    tv.authorize(pin["code"], person)
    _inject(tv, fault)
    for request in (client.post(PINS), client.get(f"{PINS}/{pin['id']}")):
        r = await request
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
        assert person.auth_token not in r.text
    async with app.state.parts.sessions() as session:
        assert len((await session.scalars(select(PlexPin))).all()) == 1  # the failed start wrote nothing
        assert await session.scalar(select(User)) is None
    tv.reset_failures()
    assert (await poll(client, pin))["status"] == "authorized"  # and the PIN still works afterwards


async def test_plex_tv_down(client: httpx.AsyncClient, tv: PlexTv) -> None:
    tv.stop()
    r = await client.post(PINS)
    assert r.status_code == 502 and r.json()["error"]["details"] == {"service": "plex.tv"}


async def test_a_revoked_plex_token_is_an_upstream_error(client: httpx.AsyncClient, tv: PlexTv) -> None:
    person = tv.add_user()
    pin = await start(client)
    tv.authorize(pin["code"], person)
    tv.revoke(person)
    assert (await poll(client, pin, expect=502))["code"] == "UPSTREAM_ERROR"


async def test_creating_pins_is_rate_limited_per_address(client: httpx.AsyncClient, settings: Settings) -> None:
    for _ in range(5):
        await start(client)
    r = await client.post(PINS)
    assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert r.headers["ratelimit-limit"] == "5" and r.headers["ratelimit-remaining"] == "0"


def _inject(tv: PlexTv, fault: str) -> None:
    if fault == "slow":
        tv.delay_s = 5.0  # the client gives up after plex_timeout_s = 2
    elif fault == "error":
        tv.fail_status = 503
    elif fault == "garbage":
        tv.garbage = True
    else:
        tv.drop = True
