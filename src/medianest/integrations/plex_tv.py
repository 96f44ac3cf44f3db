"""A client of plex.tv's account API: the PIN sign-in and the signed-in user.

Follows Plex's published flow ("Authenticating with Plex", forums.plex.tv; developer.plex.tv):
  POST /api/v2/pins?strong=true      -> {id, code, expiresAt, authToken: null, ...}
  GET  /api/v2/pins/{id}             -> the same, with authToken once the person has approved;
                                        404 once the PIN has expired
  GET  /api/v2/user (X-Plex-Token)   -> {id, uuid, username, title, email, thumb}; 401 for a bad token
Every call carries the X-Plex-* headers naming this server; a PIN can only be read back with the
client identifier that created it. The person approves the PIN at app.plex.tv (`auth_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from medianest import __version__
from medianest.text import clean_optional


class PlexTvError(Exception):
    """plex.tv could not be used: down, slow (`timeout`), or answering with errors or garbage."""

    def __init__(self, reason: str, timeout: bool = False) -> None:
        super().__init__(reason)
        self.timeout = timeout


class PinGone(PlexTvError):
    """plex.tv no longer knows the PIN: it expired (plex.tv forgets expired PINs) or never existed."""


class TokenRejected(PlexTvError):
    """plex.tv refused the token (401): revoked, or never valid."""


@dataclass(frozen=True)
class Pin:
    id: int
    code: str
    expires_at: datetime
    auth_token: str | None


@dataclass(frozen=True)
class PlexAccount:
    id: str
    username: str
    email: str | None
    title: str | None
    thumb: str | None


class PlexTv:
    def __init__(self, http: httpx.AsyncClient, base_url: str, client_id: str, product: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.product = product

    def headers(self, token: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "X-Plex-Product": self.product, "X-Plex-Version": __version__,
                   "X-Plex-Client-Identifier": self.client_id, "X-Plex-Platform": "Web",
                   "X-Plex-Device-Name": self.product}
        if token:  # in a header, never the query string: URLs end up in logs
            headers["X-Plex-Token"] = token
        return headers

    async def create_pin(self) -> Pin:
        return _pin(await self._call("POST", "/api/v2/pins", params={"strong": "true"}))

    async def check_pin(self, pin_id: int) -> Pin:
        return _pin(await self._call("GET", f"/api/v2/pins/{pin_id}"))

    async def user(self, token: str) -> PlexAccount:
        body = await self._call("GET", "/api/v2/user", token=token)
        try:
            return PlexAccount(id=str(int(body["id"])), username=_text(body.get("username")) or str(body["id"]),
                               email=_text(body.get("email")), title=_text(body.get("title")),
                               thumb=_text(body.get("thumb")))
        except (KeyError, TypeError, ValueError):
            raise PlexTvError("plex.tv sent a user without an id") from None

    def auth_url(self, auth_base: str, code: str) -> str:
        """Where the person approves the PIN (app.plex.tv takes its parameters after `#?`)."""
        query = urlencode({"clientID": self.client_id, "code": code, "context[device][product]": self.product})
        return f"{auth_base}#?{query}"

    async def _call(self, method: str, path: str, token: str | None = None,
                    params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            response = await self.http.request(method, self.base_url + path, params=params,
                                               headers=self.headers(token))
        except httpx.TimeoutException:
            raise PlexTvError("plex.tv did not answer in time", timeout=True) from None
        except httpx.HTTPError as exc:
            raise PlexTvError(f"plex.tv is unreachable ({type(exc).__name__})") from None
        return _body(response)


def _body(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 404:
        raise PinGone("plex.tv does not know this PIN (expired)")
    if response.status_code == 401:
        raise TokenRejected("plex.tv refused the token")
    if response.status_code >= 300:
        raise PlexTvError(f"plex.tv answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise PlexTvError("plex.tv answered with something that is not JSON") from None
    if not isinstance(body, dict):
        raise PlexTvError("plex.tv answered with an unexpected shape")
    return body


def _pin(body: dict[str, Any]) -> Pin:
    try:
        expires = _expiry(body)
        token = body.get("authToken")
        return Pin(id=int(body["id"]), code=str(body["code"]), expires_at=expires,
                   auth_token=token if isinstance(token, str) and token else None)
    except (KeyError, TypeError, ValueError):
        raise PlexTvError("plex.tv sent a PIN without id, code or expiry") from None


def _expiry(body: dict[str, Any]) -> datetime:
    if body.get("expiresAt"):
        return datetime.fromisoformat(str(body["expiresAt"]).replace("Z", "+00:00")).astimezone(UTC)
    return datetime.now(UTC) + timedelta(seconds=int(body["expiresIn"]))


def _text(value: object) -> str | None:
    """A string field of plex.tv's answer, cleaned of control characters (it is stored and shown)."""
    return clean_optional(value, 255) if isinstance(value, str) else None
