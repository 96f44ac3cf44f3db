"""The Subsonic password (`/api/v1/auth/subsonic-password`): set or generated, returned once, stored sealed
and bound to its user's row, never shown again; apart from the login password; gone with the user."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from medianest.accounts import subsonic
from medianest.accounts.models import User
from medianest.security.crypto import SecretUnreadable, secret_box
from tests.conftest import Api, bearer

PATH = "/api/v1/auth/subsonic-password"


async def _sealed(app: FastAPI, username: str) -> tuple[int, bytes | None]:
    async with app.state.parts.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user.id, user.subsonic_password


async def _is_set(api: Api, headers: dict[str, str]) -> bool:
    r = await api.client.get(PATH, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"].keys() == {"set"}  # never the password
    value: bool = r.json()["data"]["set"]
    return value


async def test_an_empty_body_generates_a_password_returned_once(api: Api, app: FastAPI) -> None:
    admin = await api.setup_admin()
    assert await _is_set(api, bearer(admin)) is False
    r = await api.client.post(PATH, headers=bearer(admin))
    assert r.status_code == 200, r.text
    first = r.json()["data"]["password"]
    assert len(first) >= 24 and not set(first) & set("0O1lIo")
    assert await _is_set(api, bearer(admin)) is True
    again = (await api.client.post(PATH, json={}, headers=bearer(admin))).json()["data"]["password"]
    assert again != first  # `{}` generates too, a new one each time
    nulled = (await api.client.post(PATH, json={"password": None}, headers=bearer(admin))).json()["data"]["password"]
    assert nulled not in (first, again)
    box = secret_box(app.state.parts.settings)
    user_id, sealed = await _sealed(app, "admin")
    assert sealed is not None and nulled.encode() not in sealed
    assert box.open(sealed, f"user:{user_id}:subsonic") == nulled


async def test_a_given_password_is_set_sealed_for_its_own_user_only(api: Api, app: FastAPI) -> None:
    admin = await api.setup_admin()
    await api.create_user(admin, "bob")
    r = await api.client.post(PATH, json={"password": "my subsonic pässword"}, headers=bearer(admin))
    assert r.status_code == 200 and r.json() == {"data": {"password": "my subsonic pässword"}, "meta": {}}
    admin_id, sealed = await _sealed(app, "admin")
    bob_id, _ = await _sealed(app, "bob")
    assert sealed is not None and "my subsonic pässword".encode() not in sealed
    box = secret_box(app.state.parts.settings)
    assert box.open(sealed, f"user:{admin_id}:subsonic") == "my subsonic pässword"
    for wrong in (f"user:{bob_id}:subsonic", f"user:{admin_id}:plex"):
        with pytest.raises(SecretUnreadable):
            box.open(sealed, wrong)
    async with app.state.parts.sessions() as session:  # copied onto bob's row, it does not open there
        bob = await session.get(User, bob_id)
        assert bob is not None and subsonic.read_password(box, bob) is None
        bob.subsonic_password = sealed
        assert subsonic.read_password(box, bob) is None
        admin_row = await session.get(User, admin_id)
        assert admin_row is not None and subsonic.read_password(box, admin_row) == "my subsonic pässword"


@pytest.mark.parametrize(("body", "reason"), [
    ({"password": "short"}, "at least 8"),
    ({"password": "x" * 129}, "at most 128"),
    ({"password": ""}, "at least 8"),
    ({"password": "tab\tinside-it"}, "control characters"),
    ({"password": "line\nbreak-in-it"}, "control characters"),
    ({"password": "c1-control\x85here"}, "control characters"),
    ({"password": "nul-in-the\x00middle"}, "NUL"),
    ({"password": 12345678}, "string"),
])
async def test_bad_passwords_are_refused_in_the_envelope(api: Api, body: dict[str, Any], reason: str) -> None:
    admin = await api.setup_admin()
    r = await api.client.post(PATH, json=body, headers=bearer(admin))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["request_id"]
    [field] = error["details"]["fields"]
    assert field["field"] == "body.password" and reason in field["reason"], field
    assert await _is_set(api, bearer(admin)) is False


async def test_lone_surrogates_are_refused_not_a_500(api: Api) -> None:
    admin = await api.setup_admin()
    r = await api.client.post(PATH, content=b'{"password": "abc\\ud800defgh"}',
                              headers={**bearer(admin), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert r.json()["error"]["details"]["fields"][0]["field"] == "body.password"  # pydantic's own refusal


def test_the_service_checks_the_rules_itself() -> None:
    """For callers other than the API (the body's own validation does it there)."""
    from medianest.errors import InvalidInput

    for bad in ("short", "y" * 129, "bell\x07-password", "surrogate\ud800-password"):
        with pytest.raises(InvalidInput) as caught:
            subsonic.check_rules(bad)
        assert caught.value.details["fields"][0]["field"] == "password"
    subsonic.check_rules("exactly8")
    generated = {subsonic.generate() for _ in range(50)}
    assert len(generated) == 50 and all(subsonic.problem(p) is None for p in generated)


async def test_delete_removes_it_and_is_idempotent(api: Api, app: FastAPI) -> None:
    admin = await api.setup_admin()
    await api.client.post(PATH, headers=bearer(admin))
    assert (await api.client.delete(PATH, headers=bearer(admin))).status_code == 204
    assert await _is_set(api, bearer(admin)) is False
    assert (await _sealed(app, "admin"))[1] is None
    assert (await api.client.delete(PATH, headers=bearer(admin))).status_code == 204


async def test_unauthenticated_callers_get_401(api: Api) -> None:
    await api.setup_admin()
    for method, kwargs in (("GET", {}), ("POST", {}), ("POST", {"json": {"password": "some-password"}}),
                           ("DELETE", {})):
        r = await api.client.request(method, PATH, **kwargs)
        assert r.status_code == 401, method
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
        r = await api.client.request(method, PATH, headers=bearer("not-a-token"), **kwargs)
        assert r.status_code == 401, method


async def test_an_api_key_acts_as_its_owner_here_as_for_api_keys(api: Api) -> None:
    """An API key may do what its owner may under /auth (it can create API keys too, which work for
    Subsonic apps via apiKeyAuth): it sets or generates the owner's Subsonic password, and reads only
    whether one is set."""
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    key = (await api.client.post("/api/v1/auth/api-keys", json={"name": "phone"}, headers=bearer(bob))).json()
    headers = {"X-Api-Key": key["data"]["key"]}
    r = await api.client.post(PATH, json={"password": "set-by-a-key"}, headers=headers)
    assert r.status_code == 200 and r.json()["data"]["password"] == "set-by-a-key"
    assert await _is_set(api, bearer(bob)) is True
    assert await _is_set(api, bearer(admin)) is False  # the key's owner's, nobody else's
    assert (await api.client.delete(PATH, headers=headers)).status_code == 204
    assert await _is_set(api, bearer(bob)) is False
    bad = await api.client.post(PATH, headers={"X-Api-Key": "mn_wrong"})
    assert bad.status_code == 401


async def test_setting_and_removing_are_audited_without_the_password(api: Api) -> None:
    admin = await api.setup_admin("root")
    chosen = await api.client.post(PATH, json={"password": "audited-secret"}, headers=bearer(admin))
    generated = (await api.client.post(PATH, headers=bearer(admin))).json()["data"]["password"]
    await api.client.delete(PATH, headers=bearer(admin))
    r = await api.client.get("/api/v1/audit", params={"action": "subsonic_password."}, headers=bearer(admin))
    rows = r.json()["data"]
    assert [(e["action"], e["details"]) for e in rows] == [
        ("subsonic_password.delete", {}), ("subsonic_password.set", {"generated": True}),
        ("subsonic_password.set", {"generated": False})]
    me = (await api.client.get("/api/v1/auth/me", headers=bearer(admin))).json()["data"]
    assert {e["actor_name"] for e in rows} == {"root"} and {e["target"] for e in rows} == {f"user:{me['id']}"}
    assert chosen.status_code == 200 and "audited-secret" not in str(rows) and generated not in str(rows)


async def test_login_changes_and_signing_out_leave_it_and_deleting_the_user_removes_it(api: Api, app: FastAPI) -> None:
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    await api.client.post(PATH, json={"password": "bobs-subsonic"}, headers=bearer(bob))
    bob_id, sealed = await _sealed(app, "bob")
    r = await api.client.patch(f"/api/v1/users/{bob_id}", json={"password": "a-new-login-password"},
                               headers=bearer(admin))
    assert r.status_code == 200
    assert (await _sealed(app, "bob"))[1] == sealed  # the login password is another secret
    bob = await api.login("bob", "a-new-login-password")
    assert (await api.client.delete("/api/v1/auth/sessions", headers=bearer(bob))).status_code == 204
    assert (await _sealed(app, "bob"))[1] == sealed

    assert (await api.client.delete(f"/api/v1/users/{bob_id}", headers=bearer(admin))).status_code == 204
    async with app.state.parts.sessions() as session:
        assert await session.scalar(select(User.subsonic_password).where(User.id == bob_id)) is None
        assert await session.scalar(select(User).where(User.subsonic_password.is_not(None))) is None
