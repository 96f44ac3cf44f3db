"""A stand-in for plex.tv's PIN sign-in API ("Sign in with Plex"), served on 127.0.0.1 for tests.

It answers the three calls the sign-in flow makes, in the shapes plex.tv uses:

- `POST /api/v2/pins[?strong=true]` -> 201 and the pin (a 25-character code when strong, for the auth app;
  4 characters otherwise, for plex.tv/link). Without `X-Plex-Client-Identifier`: 400, code 1000.
- `GET /api/v2/pins/{id}` -> 200 and the pin, `authToken` null until the person approves it. An unknown id, an
  expired pin, and a live pin asked for under another client identifier all get the same 404, code 1020.
- `GET /api/v2/user` -> 200 and the account for the `X-Plex-Token` (header or query parameter); 401, code 1001,
  for a missing, unknown or revoked token.

What it follows, and where each point comes from:

- Plex's guide "Authenticating with Plex" (https://forums.plex.tv/t/authenticating-with-plex/609370): a stable
  client identifier per install; create a strong PIN; send the browser to
  `https://app.plex.tv/auth#?clientID=...&code=...&context%5Bdevice%5D%5Bproduct%5D=...`; poll the PIN's id
  until `authToken` is set; `GET /api/v2/user` answers 200 for a valid token, 401 for an invalid one.
- plexapi.dev's reference (https://plexapi.dev/api-reference/plex/get-a-pin and
  https://plexapi.dev/api-reference/plex/get-access-token-by-pinid): the X-Plex-* headers, 201 on create, the
  pin's fields (id, code, product, trusted, qr, clientIdentifier, location, expiresIn, createdAt, expiresAt,
  authToken, newRegistration), what `strong` changes.
- Lifetimes: strong pins live 1800 s (`"expiresIn": 1799` at creation in
  https://github.com/Ombi-app/Ombi/issues/2894; createdAt 17:00:03, expiresAt 17:30:03 in the generated SDK
  docs, e.g. LukeHagar/plexcsharp docs/Models/Requests/GetPinResponseBody.md); 4-character pins 900 s
  (plexapi.dev's example; andrey-yantsen/plex-api.rs tests/mocks/myplex/api/v2/pins_new.json).
- The 404 / 1020 `Code not found or expired` for expired pins and for a mismatched client identifier:
  https://github.com/Ombi-app/Ombi/issues/4675, /issues/5441 and /pull/5265 (the mismatch diagnosis). Its body
  carries no `status` member, unlike plex.tv's other errors (as logged by peers; and andrey-yantsen/plex-api.rs
  src/error.rs keys 1020 without a status).
- The error body `{"errors":[{"code":...,"message":...,"status":...}]}` with its codes (1000 client identifier
  missing, 1001 not authenticated, 1002 not found, 1003 rate limit, 1007 internal error, 1013 unavailable):
  https://github.com/LukasParke/plexpy/issues/7 (a real 400) and the table in andrey-yantsen/plex-api.rs
  crates/plex-api/src/error.rs (code x status).
- The user object: andrey-yantsen/plex-api.rs tests/files/myplex/api/v2/user/user_info_free.json.

Like plex.tv (a Rails app), X-Plex-* values are read from headers, the query string or a form/JSON body, so a
client that sends the token as `?X-Plex-Token=` works here too; `requests` records where each value came
from, so tests can assert the token never travelled in a URL. JSON is answered when `Accept` asks for it (or
the path ends in `.json`); otherwise a flat XML rendering stands in for plex.tv's XML, so a client that forgets
`Accept: application/json` fails here as it would there.

Assumptions (not confirmed from a source): a POST without `X-Plex-Product` is refused with 400 / code 1000 here
(plex.tv's exact answer was not found); an authorized pin stays readable until it expires.

Faults (`delay_s`, `fail_status`, `garbage`, `drop`) can be switched at any time from the test thread. Nothing
here makes an outgoing connection; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import secrets
import socket
import string
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

from tests.loopback import LoopbackServer, QuietHandler, Served

STRONG_PIN_TTL_S = 1800.0  # plex.tv: strong (auth app) pins
LINK_PIN_TTL_S = 900.0  # plex.tv: 4-character pins for plex.tv/link

PIN_GONE_CODE = 1020
PIN_GONE_MESSAGE = "Code not found or expired"

# plex.tv's error code and message per HTTP status (andrey-yantsen/plex-api.rs src/error.rs, code x status)
PLEX_ERRORS: dict[int, tuple[int, str]] = {
    400: (1004, "The request was malformed, missed a required parameter or contained invalid values for them"),
    401: (1001, "User could not be authenticated"),
    404: (1002, "The requested resource or endpoint could not be found"),
    405: (1005, "The request method is not allowed for this endpoint"),
    429: (1003, "API rate limit exceeded"),
    500: (1007, "Internal Server Error. Something went wrong on our end"),
    503: (1013, "The server cannot handle the request"),
}

_GARBAGE = (b"<!DOCTYPE html>\n<html><head><title>Plex</title></head>\n"
            b"<body><h1>We'll be right back</h1><p>plex.tv is down for maintenance.</p></body></html>\n")
_STRONG_ALPHABET = string.ascii_lowercase + string.digits  # e.g. "3patfx1a78ukcbr7x0n9bl26t"
_LINK_ALPHABET = string.ascii_uppercase + string.digits  # e.g. "7RQZ"
_TOKEN_ALPHABET = string.ascii_letters + string.digits  # legacy tokens: 20 chars, e.g. "2ffLuB84dqLswk9skLos"
_LOCATION: dict[str, Any] = {  # plex.tv geolocates the caller; a fixed stand-in of the same shape
    "code": "GB", "european_union_member": False, "continent_code": "EU", "country": "United Kingdom",
    "city": "London", "time_zone": "Europe/London", "postal_code": "EC1A", "in_privacy_restricted_country": True,
    "in_privacy_restricted_region": False, "subdivisions": "England", "coordinates": "51.5072, -0.1276",
}

Payload = dict[str, Any]


class PlexRequest(NamedTuple):
    """One request as received. `headers` has lower-case names; `query` is the parsed URL query string."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass(frozen=True)
class PlexUser:
    """A plex.tv account the stand-in knows; `auth_token` is what `/api/v2/user` accepts as X-Plex-Token."""

    id: int
    uuid: str
    username: str
    title: str
    email: str
    thumb: str
    auth_token: str

    def to_json(self) -> Payload:
        """The account as `GET /api/v2/user` returns it (the fields a sign-in reads, plus the usual others)."""
        return {
            "id": self.id, "uuid": self.uuid, "username": self.username, "title": self.title, "email": self.email,
            "friendlyName": "", "locale": None, "confirmed": True, "joinedAt": 1577836800, "emailOnlyAuth": False,
            "hasPassword": True, "protected": False, "thumb": self.thumb, "authToken": self.auth_token,
            "mailingListStatus": "unsubscribed", "mailingListActive": False, "scrobbleTypes": "", "country": "GB",
            "subscription": {"active": False, "subscribedAt": None, "status": "Inactive", "paymentService": None,
                             "plan": None, "features": []},
            "subscriptionDescription": None, "restricted": False, "anonymous": None, "home": False, "guest": False,
            "homeSize": 1, "homeAdmin": False, "maxHomeSize": 15, "entitlements": [], "roles": [],
            "twoFactorEnabled": False, "backupCodesCreated": False,
        }


@dataclass
class PinRecord:
    """A created pin; `headers` are the (lower-case) request headers it was created with."""

    id: int
    code: str
    strong: bool
    client_identifier: str
    product: str
    headers: dict[str, str]
    created_at: float  # epoch seconds
    expires_at: float
    auth_token: str | None = None
    new_registration: bool | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def to_json(self, now: float) -> Payload:
        """The pin as plex.tv returns it; `expiresIn` counts down (whole seconds left, rounded down, as plex.tv)."""
        return {
            "id": self.id, "code": self.code, "product": self.product, "trusted": False,
            "qr": f"https://plex.tv/api/v2/pins/qr/{self.code}", "clientIdentifier": self.client_identifier,
            "location": dict(_LOCATION), "expiresIn": max(0, int(self.expires_at - now)),
            # expiresAt rounded up: with a sub-second test TTL a client must not see its deadline pass first
            "createdAt": _iso(self.created_at), "expiresAt": _iso(math.ceil(self.expires_at)),
            "authToken": self.auth_token, "newRegistration": self.new_registration,
        }


@dataclass
class _Faults:
    delay_s: float = 0.0
    fail_status: int | None = None
    garbage: bool = False
    drop: bool = False


@dataclass
class _Params:
    """X-Plex-* and other parameters, looked up as Rails does: header, then query string, then body."""

    headers: Mapping[str, str]
    query: dict[str, list[str]]
    body: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        if value is None and name in self.query:
            value = self.query[name][-1]
        if value is None:
            value = self.body.get(name)
        return value or None  # an empty value counts as missing, as a blank param does in Rails


class PlexTv(Served):
    """plex.tv's PIN sign-in endpoints on 127.0.0.1 (an ephemeral port), with test controls and faults.

    Use as a context manager (or `start()` / `stop()`); `url` is the base to configure as plex.tv's. All
    controls are thread-safe and may be used while requests are in flight.

    `pin_ttl_s`: how long new pins live; None keeps plex.tv's (1800 s strong, 900 s 4-character).
    """

    def __init__(self, pin_ttl_s: float | None = None) -> None:
        if pin_ttl_s is not None and pin_ttl_s < 0:
            raise ValueError("pin_ttl_s must not be negative")
        self.pin_ttl_s = pin_ttl_s
        self._lock = threading.Lock()
        self._pins: dict[int, PinRecord] = {}
        self._users: dict[str, PlexUser] = {}  # by token
        self._log: list[PlexRequest] = []
        self._faults = _Faults()
        # plex.tv pin ids are large integers (e.g. 1996665964); start somewhere random so no test bakes one in
        self._pin_ids = itertools.count(1_000_000_000 + secrets.randbelow(900_000_000))
        self._user_ids = itertools.count(10_000_000 + secrets.randbelow(80_000_000))
        super().__init__(_HTTPServer(self))  # bound now, so the URL is known before start()

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:PORT` (no trailing slash): plex.tv's stand-in."""
        return f"http://127.0.0.1:{self.port}"

    # -- accounts and the person at app.plex.tv --------------------------------------------------------------

    def add_user(self, username: str | None = None, *, email: str | None = None, title: str | None = None,
                 thumb: str | None = None, auth_token: str | None = None) -> PlexUser:
        """Register a plex.tv account; unspecified fields get unique realistic values."""
        with self._lock:
            user_id = next(self._user_ids)
            name = username or f"plexuser{user_id}"
            uuid = secrets.token_hex(8)  # plex.tv account uuids are 16 hex chars
            user = PlexUser(id=user_id, uuid=uuid, username=name, title=title or name,
                            email=email or f"{name.lower()}@example.com",
                            thumb=thumb or f"https://plex.tv/users/{uuid}/avatar?c={user_id}",
                            auth_token=auth_token or _random(_TOKEN_ALPHABET, 20))
            if user.auth_token in self._users:
                raise ValueError("that auth_token already belongs to another user")
            self._users[user.auth_token] = user
            return user

    def revoke(self, user: PlexUser) -> None:
        """Invalidate the user's token (as signing out of all devices does): `/api/v2/user` then answers 401."""
        with self._lock:
            self._users.pop(user.auth_token, None)

    def authorize(self, pin: int | str, user: PlexUser) -> None:
        """The person approves the pin at app.plex.tv: by id (int) or by code (str, as in the auth URL).

        Raises KeyError for an unknown pin and ValueError for an expired one or an unknown/revoked user, since
        app.plex.tv would not let that approval happen.
        """
        with self._lock:
            record = self._find(pin)
            if record.expired(time.time()):
                raise ValueError(f"pin {record.id} has expired")
            if self._users.get(user.auth_token) != user:
                raise ValueError(f"{user.username} is not a current plex.tv user here")
            record.auth_token = user.auth_token
            record.new_registration = False

    def expire(self, pin_id: int) -> None:
        """Make the pin expired now (KeyError if unknown)."""
        with self._lock:
            self._find(pin_id).expires_at = time.time()

    @property
    def pins(self) -> dict[int, PinRecord]:
        """A snapshot (copies) of every pin created, by id."""
        with self._lock:
            return {pid: replace(p, headers=dict(p.headers)) for pid, p in self._pins.items()}

    def _find(self, pin: int | str) -> PinRecord:
        if isinstance(pin, int):
            return self._pins[pin]
        for record in self._pins.values():
            if record.code == pin:
                return record
        raise KeyError(pin)

    # -- request log -----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[PlexRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- faults ----------------------------------------------------------------------------------------------

    @property
    def delay_s(self) -> float:
        """Seconds to wait before answering each request (0: none)."""
        with self._lock:
            return self._faults.delay_s

    @delay_s.setter
    def delay_s(self, value: float) -> None:
        if value < 0:
            raise ValueError("delay_s must not be negative")
        with self._lock:
            self._faults.delay_s = value

    @property
    def fail_status(self) -> int | None:
        """Answer every request with this status and a plex.tv error body (None: off)."""
        with self._lock:
            return self._faults.fail_status

    @fail_status.setter
    def fail_status(self, value: int | None) -> None:
        if value is not None:
            HTTPStatus(value)  # a ValueError now beats a broken response later
        with self._lock:
            self._faults.fail_status = value

    @property
    def garbage(self) -> bool:
        """Answer every request 200 with an HTML page instead of JSON."""
        with self._lock:
            return self._faults.garbage

    @garbage.setter
    def garbage(self, value: bool) -> None:
        with self._lock:
            self._faults.garbage = value

    @property
    def drop(self) -> bool:
        """Read each request, then close the connection without answering."""
        with self._lock:
            return self._faults.drop

    @drop.setter
    def drop(self, value: bool) -> None:
        with self._lock:
            self._faults.drop = value

    def reset_failures(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self._faults = _Faults()

    # -- used by the handler ---------------------------------------------------------------------------------

    def _record(self, request: PlexRequest) -> None:
        with self._lock:
            self._log.append(request)

    def _current_faults(self) -> _Faults:
        with self._lock:
            return replace(self._faults)

    def _answer(self, method: str, path: str, params: _Params) -> tuple[int, Payload]:
        """Route one request to its endpoint: (status, JSON-able body)."""
        if method == "POST" and path == "/api/v2/pins":
            return self._create_pin(params)
        if method == "GET" and path.startswith("/api/v2/pins/"):
            return self._read_pin(path.removeprefix("/api/v2/pins/"), params)
        if method == "GET" and path == "/api/v2/user":
            return self._read_user(params)
        return plex_error(404)

    def _create_pin(self, params: _Params) -> tuple[int, Payload]:
        client, product = params.get("X-Plex-Client-Identifier"), params.get("X-Plex-Product")
        if client is None:
            return plex_error(400, 1000, "X-Plex-Client-Identifier is missing")
        if product is None:  # assumed, see the module docstring
            return plex_error(400, 1000, "X-Plex-Product is missing")
        strong = (params.get("strong") or "").lower() in ("true", "1")
        now = time.time()
        ttl = self.pin_ttl_s if self.pin_ttl_s is not None else STRONG_PIN_TTL_S if strong else LINK_PIN_TTL_S
        with self._lock:
            code = _random(_STRONG_ALPHABET, 25) if strong else _random(_LINK_ALPHABET, 4)
            record = PinRecord(id=next(self._pin_ids), code=code, strong=strong, client_identifier=client,
                               product=product, headers=dict(params.headers), created_at=now, expires_at=now + ttl)
            self._pins[record.id] = record
            return 201, record.to_json(now)

    def _read_pin(self, pin_id: str, params: _Params) -> tuple[int, Payload]:
        client = params.get("X-Plex-Client-Identifier")
        if client is None:
            return plex_error(400, 1000, "X-Plex-Client-Identifier is missing")
        now = time.time()
        with self._lock:
            record = self._pins.get(int(pin_id)) if pin_id.isdigit() else None
            # plex.tv tells unknown, expired and someone else's pin apart for nobody: one 404 for all three
            if record is None or record.client_identifier != client or record.expired(now):
                return 404, {"errors": [{"code": PIN_GONE_CODE, "message": PIN_GONE_MESSAGE}]}
            return 200, record.to_json(now)

    def _read_user(self, params: _Params) -> tuple[int, Payload]:
        token = params.get("X-Plex-Token")
        with self._lock:
            user = self._users.get(token) if token else None
        if user is None:
            return plex_error(401)
        return 200, user.to_json()


def plex_error(status: int, code: int | None = None, message: str | None = None) -> tuple[int, Payload]:
    """plex.tv's error answer: `(status, {"errors": [{"code", "message", "status"}]})`."""
    default_code, default_message = PLEX_ERRORS.get(status, (1007 if status >= 500 else 1004,
                                                             HTTPStatus(status).phrase))
    error = {"code": code or default_code, "message": message or default_message, "status": status}
    return status, {"errors": [error]}


def auth_url_params(url: str) -> dict[str, str]:
    """The parameters of an app.plex.tv auth URL (`...auth#?clientID=..&code=..`; `#!?` also accepted).

    They live in the fragment, which the browser never sends to a server; raises ValueError for another shape.
    """
    _, sep, fragment = url.partition("#")
    query = fragment.removeprefix("!").removeprefix("?") if fragment.lstrip("!").startswith("?") else None
    if not sep or query is None:
        raise ValueError(f"not an app.plex.tv auth URL (no '#?' fragment): {url!r}")
    return {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}


@contextlib.contextmanager
def running(pin_ttl_s: float | None = None) -> Iterator[PlexTv]:
    """For fixtures: `with running() as tv: yield tv` (or `yield from` a generator around it)."""
    with PlexTv(pin_ttl_s) as tv:
        yield tv


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_xml(payload: Payload, root: str) -> bytes:
    """A flat XML rendering (scalars as attributes; nested values left out), like plex.tv's default answer."""
    if "errors" in payload:
        inner = "".join(f"<error{_attrs(e)}/>" for e in payload["errors"])
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<errors>{inner}</errors>\n'.encode()
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{_attrs(payload)}/>\n'.encode()


def _attrs(values: Mapping[str, Any]) -> str:
    def text(v: Any) -> str:
        return "" if v is None else ("1" if v is True else "0" if v is False else str(v))
    return "".join(f" {k}={quoteattr(text(v))}" for k, v in values.items() if not isinstance(v, dict | list))


def _body_params(content_type: str, raw: bytes) -> dict[str, str]:
    """Parameters from a form or JSON body (Rails merges both into params); anything else gives none."""
    if not raw:
        return {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
    if content_type.startswith("application/json"):
        with contextlib.suppress(ValueError):
            data = json.loads(raw)
            if isinstance(data, dict):
                return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items()}
    return {}


class _HTTPServer(LoopbackServer):
    def __init__(self, tv: PlexTv) -> None:
        self.tv = tv
        super().__init__(_Handler)


class _Handler(QuietHandler):
    @property
    def tv(self) -> PlexTv:
        return cast(_HTTPServer, self.server).tv

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in self.headers.items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # read first: keep-alive stays in step
        self.tv._record(PlexRequest(self.command, split.path, query, headers))
        if not self._faulted():
            path = split.path.removesuffix(".json")
            params = _Params(headers, query, _body_params(headers.get("content-type", ""), raw))
            status, payload = self.tv._answer(self.command, path, params)
            self._send_payload(status, payload, split.path)

    def _faulted(self) -> bool:
        """Apply the switched-on faults; True when the request has been dealt with."""
        delay = self.tv.delay_s
        if delay and self.tv._stopping.wait(delay):
            self._hang_up()  # stopping: don't answer late into a closing test
            return True
        faults = self.tv._current_faults()  # read after the delay: a test may change them meanwhile
        if faults.drop:
            self._hang_up()
        elif faults.fail_status is not None:
            status, payload = plex_error(faults.fail_status)
            self._send_payload(status, payload, self.path)
        elif faults.garbage:
            self._send_bytes(200, "text/html; charset=utf-8", _GARBAGE)
        else:
            return False
        return True

    def _send_payload(self, status: int, payload: Payload, path: str) -> None:
        """JSON when asked for (Accept or a `.json` path), otherwise plex.tv's default: XML."""
        if "application/json" in self.headers.get("Accept", "") or urlsplit(path).path.endswith(".json"):
            self._send_bytes(status, "application/json", json.dumps(payload).encode())
        else:
            root = "user" if urlsplit(path).path.startswith("/api/v2/user") else "pin"
            self._send_bytes(status, "application/xml", _to_xml(payload, root))

    def _send_bytes(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Request-Id", secrets.token_hex(16))  # plex.tv's app layer always sends one
        self.end_headers()
        self.wfile.write(body)

    def _hang_up(self) -> None:
        """Close without a response: the client sees the server disconnect with nothing sent."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
