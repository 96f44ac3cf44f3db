"""Sign-up, sign-in, token rotation and reuse detection, sign-out, forged and expired tokens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from sqlalchemy import select

from medianest.accounts.models import RefreshToken, User
from medianest.accounts.passwords import Passwords
from tests.conftest import PASSWORD, Api, bearer


async def test_setup_creates_the_admin_once(api: Api) -> None:
    before = await api.client.get("/api/v1/auth/setup")
    assert before.json()["data"] == {"required": True}  # the web UI's first-run page shows
    token = await api.setup_admin()
    assert (await api.client.get("/api/v1/auth/setup")).json()["data"] == {"required": False}
    me = (await api.client.get("/api/v1/auth/me", headers=bearer(token))).json()["data"]
    assert me["username"] == "admin" and me["role"] == "admin" and me["status"] == "active"
    again = await api.client.post("/api/v1/auth/setup", json={"username": "other", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"


async def test_setup_rejects_a_short_password_naming_the_field(api: Api) -> None:
    r = await api.client.post("/api/v1/auth/setup", json={"username": "admin", "password": "short"})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["field"] == "body.password"


async def test_login_failure_does_not_reveal_whether_the_user_exists(api: Api) -> None:
    await api.setup_admin()
    wrong = await api.client.post("/api/v1/auth/login", json={"username": "admin", "password": "nope-nope-nope"})
    unknown = await api.client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


async def test_every_failed_sign_in_costs_one_full_password_check(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """No timing difference to measure: a wrong password, an unknown name and a password-less (Plex)
    account each run Argon2 exactly once. (The cost itself is not timed here: no timing in tests.)"""
    await api.setup_admin()
    async with api.app.state.parts.sessions() as session:
        session.add(User(username="plexonly", username_key="plexonly", password_hash=None, role="user",
                         status="active", plex_id="777"))
        await session.commit()
        passwords = Passwords.of(session)  # the app's
    calls: list[str] = []
    real = passwords.hasher.verify
    monkeypatch.setattr(passwords.hasher, "verify", lambda pw, h: calls.append(h[:9]) or real(pw, h))
    for name in ("admin", "ghost", "plexonly"):
        r = await api.client.post("/api/v1/auth/login", json={"username": name, "password": "nope-nope-nope"})
        assert r.status_code == 401 and r.json()["error"]["message"] == "invalid username or password"
    assert calls == ["$argon2id"] * 3


async def test_usernames_are_case_insensitive(api: Api) -> None:
    admin = await api.setup_admin("Admin")
    assert await api.login("ADMIN")
    r = await api.client.post("/api/v1/users", json={"username": "admin", "password": PASSWORD},
                              headers=bearer(admin))
    assert r.status_code == 409


async def test_passwords_and_refresh_tokens_are_stored_hashed(api: Api) -> None:
    await api.setup_admin()
    r = await api.client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    refresh = r.json()["data"]["refresh_token"]
    async with api.app.state.parts.sessions() as s:
        user = await s.scalar(select(User))
        hashes = list(await s.scalars(select(RefreshToken.token_hash)))
    assert user is not None and user.password_hash is not None
    assert user.password_hash.startswith("$argon2") and PASSWORD not in user.password_hash
    assert refresh not in hashes and len(hashes) == 2


async def _pair(api: Api) -> dict[str, str]:
    r = await api.client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    data: dict[str, str] = r.json()["data"]
    return data


async def test_refresh_rotates_and_replay_revokes_the_family(api: Api) -> None:
    await api.setup_admin()
    first = await _pair(api)
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()["data"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))).status_code == 200
    replay = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # The thief's replay ended the family: the legitimate newer token is dead too.
    after = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(api: Api) -> None:
    await api.setup_admin()
    pair = await _pair(api)
    assert (await api.client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).is_success
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401


async def test_forged_expired_and_wrong_kind_tokens_are_refused(api: Api) -> None:
    token = await api.setup_admin()
    signer = api.app.state.parts.auth.signer
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    unsigned = f"{header}.{payload}."
    none_alg = (base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
                + f".{payload}.")
    tampered_claims = dict(claims, sub="999")
    tampered = f"{header}.{base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(b'=').decode()}." \
               + token.split(".")[2]
    other_key = jwt.encode(claims, "another-secret-another-secret-32b", algorithm="HS256")
    expired = jwt.encode(dict(claims, exp=int(time.time()) - 5), signer._key, algorithm="HS256")
    media_token = signer.media_token(int(claims["sub"]), 1, claims["ep"])
    for bad in (unsigned, none_alg, tampered, other_key, expired, media_token, "garbage", ""):
        r = await api.client.get("/api/v1/auth/me", headers=bearer(bad))
        assert r.status_code == 401, bad
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
    assert (await api.client.get("/api/v1/auth/me")).status_code == 401
