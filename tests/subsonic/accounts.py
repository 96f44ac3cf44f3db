"""Accounts of a test's own on a live server (the shared Subsonic `world`'s, usually), so that what a test stars,
rates, queues and plays is nobody else's: `new_account(server)` makes a user through the admin REST API, signs
them in and sets their Subsonic password; `Account.raw(...)` calls /rest as them, as `World.raw` does for admin
and bob."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.conftest import PASSWORD
from tests.liveserver import ADMIN, LiveServer
from tests.loopback import http
from tests.subsonic import spec

Params = dict[str, Any] | list[tuple[str, Any]]


@dataclass
class Account:
    base: str  # the server's base URL
    id: str
    username: str
    password: str | None  # the Subsonic password; None when none was set
    token: str  # a bearer token for the REST API

    def creds(self) -> dict[str, str]:
        assert self.password is not None, f"{self.username} has no Subsonic password"
        return {"u": self.username, "p": self.password, "c": "tests", "v": "1.16.1"}

    def raw(self, endpoint: str, params: Params | None = None, *, fmt: str = "json", method: str = "GET",
            client: httpx.Client | None = None) -> httpx.Response:
        # The credentials first: a parameter given twice is read as its last value, so a test's own `c` wins.
        items = [*self.creds().items(), *(params.items() if isinstance(params, dict) else params or [])]
        return send(self.base, endpoint, items, fmt=fmt, method=method, client=client)

    def ok(self, endpoint: str, params: Params | None = None) -> dict[str, Any]:
        """A successful JSON answer, checked against the OpenSubsonic schema; its `subsonic-response`."""
        r = self.raw(endpoint, params)
        assert r.status_code == 200, r.text
        spec.validate_json(endpoint, r.json())
        response: dict[str, Any] = r.json()["subsonic-response"]
        assert response["status"] == "ok", f"{endpoint} {params}: {response}"
        return response

    def failed(self, endpoint: str, params: Params | None = None, *, code: int | None = None) -> dict[str, Any]:
        r = self.raw(endpoint, params)
        assert r.status_code == 200, r.text
        spec.validate_error(r.json(), code)
        error: dict[str, Any] = r.json()["subsonic-response"]["error"]
        return error

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return http().request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=30, **kwargs)


def send(base: str, endpoint: str, items: list[tuple[str, Any]], *, fmt: str = "json", method: str = "GET",
         client: httpx.Client | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """/rest/<endpoint> with exactly these parameters (and f=json for JSON): in the query string, or in a
    form body for POST."""
    items = [*items, ("f", "json")] if fmt == "json" else list(items)
    url = f"{base}/rest/{endpoint}"
    client = client or http()
    if method == "POST":
        form = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
        return client.post(url, content=urlencode(items), headers=form)
    return client.request(method, url, params=items, headers=headers)


def sign_in(server: LiveServer, name: str = ADMIN) -> str:
    """A fresh access token (the server's own admin token may have expired in a long session)."""
    r = http().post(f"{server.base_url}/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    token: str = r.json()["data"]["access_token"]
    return token


def as_admin(server: LiveServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The REST API as the server's admin."""
    return http().request(method, f"{server.base_url}{path}", headers={"Authorization": f"Bearer {sign_in(server)}"},
                         timeout=30, **kwargs)


def create_user(server: LiveServer, name: str, role: str = "user") -> tuple[str, str]:
    """A user made by the admin through the REST API, signed in: (id, bearer token)."""
    r = as_admin(server, "POST", "/api/v1/users", json={"username": name, "password": PASSWORD, "role": role})
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"], sign_in(server, name)


def new_account(server: LiveServer, prefix: str = "user", *, role: str = "user", password: str | None = "",
                ) -> Account:
    """A fresh user named `<prefix>-<hex>`. `password` is their Subsonic password: "" for a generated one,
    None for none at all."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    user_id, token = create_user(server, name, role)
    if password == "":
        password = f"pw-{secrets.token_hex(8)}"
    if password is not None:
        r = http().post(f"{server.base_url}/api/v1/auth/subsonic-password", json={"password": password},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code in (200, 201, 204), r.text
    return Account(server.base_url, user_id, name, password, token)


@contextlib.contextmanager
def no_failures_logged(server: LiveServer) -> Iterator[None]:
    """The server logged no failure meanwhile (a handler's exception is logged with its traceback)."""
    start = server.log_file.stat().st_size
    yield
    with server.log_file.open("rb") as log:
        log.seek(start)
        text = log.read().decode(errors="replace")
    for sign in ("Traceback", "subsonic endpoint failed"):
        assert sign not in text, f"the server logged a failure:\n{text[-4000:]}"
