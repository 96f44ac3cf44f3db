"""Forged, expired, wrong-algorithm and tampered tokens are refused on every surface that takes a token.

Surfaces: an ordinary API route (GET /api/v1/auth/me with `Authorization: Bearer`); the media bytes
(`?token=` on /stream, both through the fast path and the route, and on /artwork; a bearer on /stream);
and the Socket.IO connect (a real python-socketio client against the app served by uvicorn on 127.0.0.1).

Forgeries: `alg: none`, HS/RS confusion (RS256 with a fresh RSA key, HS256 keyed with that key's public
PEM), HS384/HS512 with the server's own key (only HS256 is accepted), another secret, a tampered payload
(`sub` changed) or signature, truncated tokens, expired or not-yet-valid ones, missing `exp`/`sub`, the
wrong scope (media <-> access), a media token for another item, and tokens of deleted or suspended users.
Each refusal sits next to a control token built by the same code with the server's key, which is accepted,
so a refusal means the token was judged and not that the forging machinery is broken.

Refresh tokens: replaying a rotated token is refused and revokes its whole family (the newer token too),
while another sign-in's family keeps working.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import socketio
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI

from tests.conftest import Api, bearer

ME = "/api/v1/auth/me"
DIGESTS: dict[str, Callable[..., Any]] = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                                          "HS512": hashlib.sha512}
REFUSED = (401, "UNAUTHORIZED")


# --- building tokens -------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _hmac_token(key: bytes, claims: dict[str, Any], alg: str = "HS256") -> str:
    """A JWT signed by hand (PyJWT refuses a PEM as an HMAC key, which is the point of one case)."""
    signing_input = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), DIGESTS[alg]).digest()
    return f"{signing_input}.{_b64(signature)}"


def _server_key(app: FastAPI) -> bytes:
    key: bytes = app.state.parts.auth.signer._key
    return key


def _claims(user_id: int, scope: str, media_id: str | None = None, ttl_s: int = 600) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": str(user_id), "scope": scope, "iat": now, "exp": now + ttl_s}
    if media_id is not None:
        claims["mid"] = media_id
    return claims


@cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _flip_first(text: str) -> str:
    # The first character, not the last: a base64url tail carries padding bits a decoder may ignore.
    return ("B" if text[0] == "A" else "A") + text[1:]


def _without(claims: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != name}


def forgeries(key: bytes, claims: dict[str, Any], other_user_id: int) -> dict[str, str]:
    """Tokens that must all be refused wherever `_hmac_token(key, claims)` is accepted."""
    header, payload, signature = _hmac_token(key, claims).split(".")
    public_pem = _rsa_key().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    return {
        "alg none": f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg None, old signature kept": f"{_segment({'alg': 'None', 'typ': 'JWT'})}.{payload}.{signature}",
        "HS256 header, no signature": f"{header}.{payload}.",
        "RS256, fresh RSA key": jwt.encode(claims, _rsa_key(), algorithm="RS256"),
        "HS256 keyed with the public key PEM": _hmac_token(public_pem, claims),
        "HS384, server key": _hmac_token(key, claims, "HS384"),
        "HS512, server key": _hmac_token(key, claims, "HS512"),
        "another secret": _hmac_token(hashlib.sha256(b"medianest-jwt:another-secret").digest(), claims),
        "tampered sub": f"{header}.{_segment({**claims, 'sub': str(other_user_id)})}.{signature}",
        "tampered exp": f"{header}.{_segment({**claims, 'exp': claims['exp'] + 86400})}.{signature}",
        "tampered signature": f"{header}.{payload}.{_flip_first(signature)}",
        "truncated signature": f"{header}.{payload}.{signature[:-6]}",
        "two segments": f"{header}.{payload}",
        "expired": _hmac_token(key, {**claims, "iat": now - 3600, "exp": now - 60}),
        "not yet valid": _hmac_token(key, {**claims, "nbf": now + 3600}),
        "missing exp": _hmac_token(key, _without(claims, "exp")),
        "missing sub": _hmac_token(key, _without(claims, "sub")),
        "sub not a user id": _hmac_token(key, {**claims, "sub": "admin"}),
        "garbage": "not-a-token",
    }


# --- asking ----------------------------------------------------------------------------------------

def _outcome(r: httpx.Response) -> tuple[int, str | None]:
    """The status and, for an error, its code (None for a success, which carries no error envelope)."""
    if r.is_success or not r.headers.get("content-type", "").startswith("application/json"):
        return r.status_code, None
    code: str = r.json()["error"]["code"]
    return r.status_code, code


def _not_refused(outcomes: dict[str, tuple[int, str | None]], expected: tuple[int, str] = REFUSED,
                 ) -> dict[str, tuple[int, str | None]]:
    """The cases that did not get `expected` (empty when every case was refused as it should be)."""
    return {name: got for name, got in outcomes.items() if got != expected}


async def _me(client: httpx.AsyncClient, token: str) -> tuple[int, str | None]:
    return _outcome(await client.get(ME, headers=bearer(token)))


async def _user_id(client: httpx.AsyncClient, token: str) -> int:
    r = await client.get(ME, headers=bearer(token))
    assert r.status_code == 200, r.text
    return int(r.json()["data"]["id"])


def _bytes_urls(media_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Where a `?token=` opens bytes: the stream through the fast path (the token alone in the query),
    the stream through the route (any other parameter makes the fast path step aside), the artwork."""
    base = f"/api/v1/media/{media_id}"
    return {"stream (fast path)": (f"{base}/stream", {}), "stream (route)": (f"{base}/stream", {"download": "false"}),
            "artwork": (f"{base}/artwork", {})}


async def _bytes_outcomes(client: httpx.AsyncClient, media_id: str, token: str) -> dict[str, tuple[int, str | None]]:
    out = {}
    for where, (url, extra) in _bytes_urls(media_id).items():
        out[where] = _outcome(await client.get(url, params={"token": token, **extra}))
    return out


def _media_token(item: dict[str, Any]) -> str:
    return parse_qs(urlsplit(str(item["stream_url"])).query)["token"][0]


async def _library(api: Api) -> tuple[str, dict[str, dict[str, Any]]]:
    admin = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    return admin, {item["title"]: item for item in await api.all_media(admin)}


# --- an ordinary API route ---------------------------------------------------------------------------

async def test_forged_access_tokens_are_refused_on_an_api_route(api: Api) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    alice_id, admin_id = await _user_id(api.client, alice), await _user_id(api.client, admin)
    key = _server_key(api.app)
    control = _hmac_token(key, _claims(alice_id, "access"))
    r = await api.client.get(ME, headers=bearer(control))
    assert r.status_code == 200 and r.json()["data"]["username"] == "alice", r.text
    cases = forgeries(key, _claims(alice_id, "access"), other_user_id=admin_id)
    outcomes = {name: await _me(api.client, token) for name, token in cases.items()}
    assert _not_refused(outcomes) == {}
    r = await api.client.get(ME, headers=bearer(cases["tampered sub"]))
    assert r.headers["www-authenticate"] == "Bearer" and "admin" not in r.text


async def test_media_scope_tokens_are_not_access_tokens(api: Api) -> None:
    admin, items = await _library(api)
    admin_id, key = await _user_id(api.client, admin), _server_key(api.app)
    media_id = items["Jóga"]["id"]
    outcomes = {
        "issued media token": await _me(api.client, _media_token(items["Jóga"])),
        "hand-made media token": await _me(api.client, _hmac_token(key, _claims(admin_id, "media", media_id))),
        "no scope": await _me(api.client, _hmac_token(key, _without(_claims(admin_id, "access"), "scope"))),
        "unknown scope": await _me(api.client, _hmac_token(key, _claims(admin_id, "admin"))),
    }
    assert _not_refused(outcomes) == {}
    assert await _me(api.client, _hmac_token(key, _claims(admin_id, "access"))) == (200, None)


# --- the media bytes --------------------------------------------------------------------------------

async def test_forged_media_tokens_are_refused_on_stream_and_artwork(api: Api) -> None:
    admin, items = await _library(api)
    admin_id, key = await _user_id(api.client, admin), _server_key(api.app)
    media_id = items["Jóga"]["id"]
    claims = _claims(admin_id, "media", media_id)
    control = await _bytes_outcomes(api.client, media_id, _hmac_token(key, claims))
    assert control == dict.fromkeys(_bytes_urls(media_id), (200, None))
    user_id = await _user_id(api.client, await api.create_user(admin, "alice"))
    cases = forgeries(key, claims, other_user_id=user_id)
    outcomes = {f"{name} @ {where}": got for name, token in cases.items()
                for where, got in (await _bytes_outcomes(api.client, media_id, token)).items()}
    assert _not_refused(outcomes) == {}


async def test_forged_access_tokens_are_refused_as_a_bearer_on_stream(api: Api) -> None:
    admin, items = await _library(api)
    admin_id, key = await _user_id(api.client, admin), _server_key(api.app)
    url = f"/api/v1/media/{items['Circle']['id']}/stream"
    claims = _claims(admin_id, "access")

    async def both_paths(token: str) -> list[tuple[int, str | None]]:
        fast = await api.client.get(url, headers=bearer(token))
        route = await api.client.get(url, params={"download": "false"}, headers=bearer(token))
        return [_outcome(fast), _outcome(route)]

    assert await both_paths(_hmac_token(key, claims)) == [(200, None), (200, None)]
    cases = {**forgeries(key, claims, other_user_id=admin_id + 1),
             "media token as bearer": _media_token(items["Circle"])}
    outcomes = {f"{name} #{i}": got for name, token in cases.items() for i, got in enumerate(await both_paths(token))}
    assert _not_refused(outcomes) == {}


async def test_a_media_token_opens_its_own_item_only_and_access_tokens_are_not_media_tokens(api: Api) -> None:
    admin, items = await _library(api)
    joga, circle = items["Jóga"], items["Circle"]  # both have cover art
    assert await _bytes_outcomes(api.client, circle["id"], _media_token(circle)) == dict.fromkeys(
        _bytes_urls(circle["id"]), (200, None))
    outcomes = {
        **{f"Jóga's token @ Circle {w}": got
           for w, got in (await _bytes_outcomes(api.client, circle["id"], _media_token(joga))).items()},
        **{f"access token @ Circle {w}": got
           for w, got in (await _bytes_outcomes(api.client, circle["id"], admin)).items()},
    }
    assert _not_refused(outcomes) == {}


# --- deleted and suspended users ----------------------------------------------------------------------

async def _user_with_urls(api: Api, admin: str, media_id: str, name: str) -> tuple[str, int, dict[str, Any]]:
    token = await api.create_user(admin, name)
    r = await api.client.get(f"/api/v1/media/{media_id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    item = r.json()["data"]
    assert await _me(api.client, token) == (200, None)
    assert _outcome(await api.client.get(item["stream_url"])) == (200, None)
    assert _outcome(await api.client.get(item["artwork_url"])) == (200, None)
    return token, await _user_id(api.client, token), item


async def _everywhere(api: Api, token: str, item: dict[str, Any]) -> dict[str, tuple[int, str | None]]:
    return {"me": await _me(api.client, token),
            "stream_url": _outcome(await api.client.get(item["stream_url"])),
            "stream (route)": _outcome(await api.client.get(item["stream_url"] + "&download=false")),
            "artwork_url": _outcome(await api.client.get(item["artwork_url"])),
            "bearer on stream": _outcome(await api.client.get(f"/api/v1/media/{item['id']}/stream",
                                                              headers=bearer(token)))}


async def test_a_deleted_users_tokens_are_refused(api: Api) -> None:
    admin, items = await _library(api)
    token, user_id, item = await _user_with_urls(api, admin, items["Jóga"]["id"], "carol")
    r = await api.client.delete(f"/api/v1/users/{user_id}", headers=bearer(admin))
    assert r.status_code == 204, r.text
    assert _not_refused(await _everywhere(api, token, item)) == {}


async def test_a_deleted_users_tokens_do_not_open_the_next_account(api: Api) -> None:
    """Tokens name the user by id: an id handed out again (SQLite reuses the highest rowid) must not
    turn the deleted user's still-unexpired tokens into the new user's."""
    admin, items = await _library(api)
    token, user_id, item = await _user_with_urls(api, admin, items["Jóga"]["id"], "carol")
    r = await api.client.delete(f"/api/v1/users/{user_id}", headers=bearer(admin))
    assert r.status_code == 204, r.text
    dave = await api.create_user(admin, "dave")
    assert await _me(api.client, dave) == (200, None)
    outcomes = await _everywhere(api, token, item)
    assert _not_refused(outcomes) == {}, f"carol's tokens after dave got id {await _user_id(api.client, dave)}"


async def test_a_suspended_users_tokens_are_refused(api: Api) -> None:
    """Refused as 403 FORBIDDEN: the token is genuine but the account may not be used (see accounts/service.py)."""
    admin, items = await _library(api)
    token, user_id, item = await _user_with_urls(api, admin, items["Jóga"]["id"], "erin")
    r = await api.client.patch(f"/api/v1/users/{user_id}", json={"status": "suspended"}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert _not_refused(await _everywhere(api, token, item), expected=(403, "FORBIDDEN")) == {}


# --- refresh tokens ---------------------------------------------------------------------------------

async def _sign_in(api: Api, username: str = "admin") -> dict[str, str]:
    r = await api.client.post("/api/v1/auth/login", json={"username": username, "password": "correct-horse-battery"})
    assert r.status_code == 200, r.text
    pair: dict[str, str] = r.json()["data"]
    return pair


async def _refresh(api: Api, refresh_token: str) -> httpx.Response:
    return await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


async def test_refresh_replay_revokes_the_family_but_not_other_sign_ins(api: Api) -> None:
    await api.setup_admin()
    first, elsewhere = await _sign_in(api), await _sign_in(api)
    rotated = await _refresh(api, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["data"]["refresh_token"]
    assert second != first["refresh_token"]
    assert _outcome(await _refresh(api, first["refresh_token"])) == REFUSED  # the replay
    assert _outcome(await _refresh(api, second)) == REFUSED  # the family is gone, the newest token too
    assert _outcome(await _refresh(api, first["refresh_token"])) == REFUSED
    other = await _refresh(api, elsewhere["refresh_token"])
    assert other.status_code == 200, other.text
    assert _outcome(await _refresh(api, other.json()["data"]["refresh_token"])) == (200, None)


async def test_things_that_are_not_refresh_tokens_are_refused(api: Api) -> None:
    admin = await api.setup_admin()
    pair = await _sign_in(api)
    cases = {"access token": admin, "truncated": pair["refresh_token"][:-4],
             "tampered": _flip_first(pair["refresh_token"]), "garbage": "x" * 43}
    outcomes = {name: _outcome(await _refresh(api, token)) for name, token in cases.items()}
    assert _not_refused(outcomes) == {}
    assert _outcome(await _refresh(api, "")) == (422, "VALIDATION_ERROR")
    assert (await _refresh(api, pair["refresh_token"])).status_code == 200


# --- Socket.IO ----------------------------------------------------------------------------------------

@pytest.fixture
async def live(app: FastAPI, free_port: int) -> AsyncIterator[str]:
    """The test's app (its lifespan already run) served for real, so a Socket.IO client can connect."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30  # a start-up deadline, not a speed check
    while not server.started:
        assert not task.done() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{free_port}"
    server.should_exit = True
    await task


async def _connects(base: str, token: str) -> bool:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        return False
    await client.disconnect()
    return True


async def test_socketio_refuses_forged_tokens(api: Api, live: str) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    alice_id, admin_id = await _user_id(api.client, alice), await _user_id(api.client, admin)
    key = _server_key(api.app)
    assert await _connects(live, _hmac_token(key, _claims(alice_id, "access")))
    cases = {**forgeries(key, _claims(alice_id, "access"), other_user_id=admin_id),
             "media scope": _hmac_token(key, _claims(alice_id, "media", "1")),
             "issued media token": api.app.state.parts.auth.signer.media_token(alice_id, 1, 0)}
    accepted = [name for name, token in cases.items() if await _connects(live, token)]
    assert accepted == []
    assert await _connects(live, alice)


async def test_socketio_refuses_deleted_and_suspended_users(api: Api, live: str) -> None:
    admin = await api.setup_admin()
    gone, held = await api.create_user(admin, "gone"), await api.create_user(admin, "held")
    assert await _connects(live, gone) and await _connects(live, held)
    gone_id, held_id = await _user_id(api.client, gone), await _user_id(api.client, held)
    r = await api.client.patch(f"/api/v1/users/{held_id}", json={"status": "suspended"}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert (await api.client.delete(f"/api/v1/users/{gone_id}", headers=bearer(admin))).status_code == 204
    assert not await _connects(live, gone)
    assert not await _connects(live, held)
    assert await _connects(live, admin)
