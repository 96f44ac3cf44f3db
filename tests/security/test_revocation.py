"""Tokens minted before a password change, a suspension or "sign out everywhere" stop working at once:
access tokens and media tokens (`?token=`, on the stream fast path, the stream route and artwork) carry
the user's token epoch, and each of those raises it. Tokens minted afterwards work."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from medianest.accounts import users
from medianest.accounts.models import User
from medianest.accounts.passwords import Passwords
from medianest.config import Settings
from medianest.db.engine import create_engine, create_session_factory
from tests.conftest import PASSWORD, Api, bearer
from tests.realtime.conftest import until

NEW_PASSWORD = "a-brand-new-password"
RANGE = {"Range": "bytes=0-1"}
ALL_REFUSED = {"access token": 401, "media token": 401, "media token, route": 401, "artwork token": 401,
               "bearer on stream": 401}
ALL_WORKING = {"access token": 200, "media token": 206, "media token, route": 206, "artwork token": 200,
               "bearer on stream": 206}


async def _item(api: Api, token: str) -> dict[str, Any]:
    """An item with cover art, as `token`'s user sees it (its URLs signed for them)."""
    return next(i for i in await api.all_media(token) if i["artwork_url"])


async def _answers(api: Api, token: str, item: dict[str, Any]) -> dict[str, int]:
    get = api.client.get
    return {
        "access token": (await get("/api/v1/auth/me", headers=bearer(token))).status_code,
        "media token": (await get(item["stream_url"], headers=RANGE)).status_code,  # served by the fast path
        "media token, route": (await get(item["stream_url"] + "&download=1", headers=RANGE)).status_code,
        "artwork token": (await get(item["artwork_url"])).status_code,
        "bearer on stream": (await get(f"/api/v1/media/{item['id']}/stream",
                                       headers={**RANGE, **bearer(token)})).status_code,
    }


async def _bob(api: Api) -> tuple[str, str, str, dict[str, Any]]:
    """(admin token, Bob's token, Bob's id, an item with Bob's URLs), Bob's tokens checked to work."""
    admin = await api.setup_admin()
    await api.scan()
    bob = await api.create_user(admin, "bob")
    bob_id = (await api.client.get("/api/v1/auth/me", headers=bearer(bob))).json()["data"]["id"]
    item = await _item(api, bob)
    assert await _answers(api, bob, item) == ALL_WORKING
    return admin, bob, bob_id, item


async def test_a_password_change_revokes_access_and_media_tokens(api: Api) -> None:
    admin, bob, bob_id, item = await _bob(api)
    r = await api.client.patch(f"/api/v1/users/{bob_id}", json={"password": NEW_PASSWORD}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert await _answers(api, bob, item) == ALL_REFUSED
    fresh = await api.login("bob", NEW_PASSWORD)
    assert await _answers(api, fresh, await _item(api, fresh)) == ALL_WORKING


async def test_a_suspension_revokes_tokens_for_good(api: Api) -> None:
    admin, bob, bob_id, item = await _bob(api)
    for status in ("suspended", "active"):
        r = await api.client.patch(f"/api/v1/users/{bob_id}", json={"status": status}, headers=bearer(admin))
        assert r.status_code == 200, r.text
    assert await _answers(api, bob, item) == ALL_REFUSED  # reactivation does not bring them back
    fresh = await api.login("bob")
    assert await _answers(api, fresh, await _item(api, fresh)) == ALL_WORKING


async def test_signing_out_everywhere_ends_every_session_but_keeps_api_keys(api: Api) -> None:
    _, bob, _, item = await _bob(api)
    phone = (await api.client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})).json()
    key = (await api.client.post("/api/v1/auth/api-keys", json={"name": "script"}, headers=bearer(bob))).json()
    assert (await api.client.delete("/api/v1/auth/sessions", headers=bearer(bob))).status_code == 204
    assert await _answers(api, bob, item) == ALL_REFUSED
    assert await _answers(api, phone["data"]["access_token"], item) == ALL_REFUSED
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": phone["data"]["refresh_token"]})
    assert r.status_code == 401
    # An API key is a credential given to a script, not a sign-in: it is revoked on its own.
    r = await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": key["data"]["key"]})
    assert r.status_code == 200
    fresh = await api.login("bob")
    assert await _answers(api, fresh, await _item(api, fresh)) == ALL_WORKING
    sessions = (await api.client.get("/api/v1/auth/sessions", headers=bearer(fresh))).json()["data"]
    assert len(sessions) == 1


async def test_signing_out_everywhere_needs_a_sign_in(api: Api) -> None:
    await api.setup_admin()
    r = await api.client.delete("/api/v1/auth/sessions")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_password_changed_by_another_process_reaches_the_streams(api: Api, settings: Settings) -> None:
    """`medianest user passwd` changes the database from another process: this one's cached lookups
    notice within their short lifetime."""
    _, bob, _, item = await _bob(api)
    engine = create_engine(settings.db_url)
    try:
        async with Passwords.from_settings(settings).attach(create_session_factory(engine))() as session:
            await users.set_password(session, "bob", NEW_PASSWORD)
    finally:
        await engine.dispose()

    async def refused() -> bool:
        return await _answers(api, bob, item) == ALL_REFUSED
    await until(refused, "the old tokens to be refused")


@pytest.mark.parametrize("epoch", [1, 5])
async def test_a_token_claiming_another_epoch_is_refused(api: Api, settings: Settings, epoch: int) -> None:
    """Only the current epoch opens anything, whichever way it differs."""
    bob_id = (await _bob(api))[2]
    async with api.app.state.parts.sessions() as session:
        await session.execute(update(User).where(User.id == int(bob_id)).values(token_epoch=3))
        await session.commit()
    signer = api.app.state.parts.auth.signer
    stale = signer.access_token(int(bob_id), epoch)
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(stale))).status_code == 401
    current = signer.access_token(int(bob_id), 3)
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(current))).status_code == 200
