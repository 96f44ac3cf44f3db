"""Per-user API keys: shown once, stored hashed, accepted as `X-Api-Key` everywhere (bytes included),
revocable, and gone when their owner is suspended."""

from __future__ import annotations

import hashlib

from fastapi import FastAPI
from sqlalchemy import select

from medianest.accounts.models import ApiKey
from tests.conftest import Api, bearer


async def _new_key(api: Api, token: str, name: str = "my script") -> dict[str, str]:
    r = await api.client.post("/api/v1/auth/api-keys", json={"name": name}, headers=bearer(token))
    assert r.status_code == 201, r.text
    data: dict[str, str] = r.json()["data"]
    return data


async def test_a_key_is_shown_once_stored_hashed_and_works(api: Api, app: FastAPI) -> None:
    admin = await api.setup_admin()
    created = await _new_key(api, admin)
    key = created["key"]
    assert key.startswith("mn_") and len(key) > 40 and created["prefix"] == key[:8]

    me = await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": key})
    assert me.status_code == 200 and me.json()["data"]["username"] == "admin"
    listed = (await api.client.get("/api/v1/auth/api-keys", headers=bearer(admin))).json()["data"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    async with app.state.parts.sessions() as session:
        stored = await session.scalar(select(ApiKey.key_hash))
    assert stored == hashlib.sha256(key.encode()).hexdigest()  # the key itself is nowhere in the DB

    r = await api.client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=bearer(admin))
    assert r.status_code == 204
    refused = await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": key})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"


async def test_wrong_keys_and_others_keys(api: Api) -> None:
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    mine = await _new_key(api, admin)
    for bad in ("mn_nope", mine["key"] + "x", ""):
        r = await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": bad})
        assert r.status_code == 401, bad
    r = await api.client.delete(f"/api/v1/auth/api-keys/{mine['id']}", headers=bearer(bob))
    assert r.status_code == 404  # bob cannot revoke, or even see, the admin's key
    assert (await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": mine["key"]})).status_code == 200
    assert (await api.client.get("/api/v1/auth/api-keys", headers=bearer(bob))).json()["data"] == []


async def test_suspending_a_user_revokes_their_keys_for_good(api: Api) -> None:
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    key = (await _new_key(api, bob))["key"]
    bob_id = (await api.client.get("/api/v1/auth/me", headers=bearer(bob))).json()["data"]["id"]
    await api.client.patch(f"/api/v1/users/{bob_id}", json={"status": "suspended"}, headers=bearer(admin))
    assert (await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": key})).status_code == 401
    await api.client.patch(f"/api/v1/users/{bob_id}", json={"status": "active"}, headers=bearer(admin))
    assert (await api.client.get("/api/v1/auth/me", headers={"X-Api-Key": key})).status_code == 401


async def test_a_key_opens_media_bytes(api: Api) -> None:
    admin = await api.setup_admin()
    await api.scan()
    item = await api.media_by_title(admin, "Jóga")
    key = (await _new_key(api, admin))["key"]
    path = item["stream_url"].split("?")[0]
    assert (await api.client.get(path)).status_code == 401
    r = await api.client.get(path, headers={"X-Api-Key": key, "Range": "bytes=0-9"})
    assert r.status_code == 206 and len(r.content) == 10
    assert (await api.client.get(path, headers={"X-Api-Key": "mn_wrong"})).status_code == 401
