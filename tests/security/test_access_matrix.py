"""The access matrix: one user can neither read nor change another's objects, and no plain user gets in
anywhere an admin is required.

One world per backend (module scope, so the ~200 cases take seconds): an admin, users A (alice) and B (bob), a
scanned library, a Seerr connection (its stand-in on 127.0.0.1) and a second connection, and A's objects -
likes, resume points and plays on two items, a private and a public playlist with items, a download (failed
on purpose against `MediaServer` on 127.0.0.1), a media request, an API key and two sign-in sessions. B has
an API key and a playlist of his own.

Each row is (method, route template, the objects its path names, body) and runs like this:

1. the owner (A; the admin for admin routes) does the same call on an equivalent object of their own and
   gets a 2xx - so a 404 later means "not yours", never "no such route";
2. the state that matters is read: everything of A's (or the admin's view: users, media, latest scan);
3. B calls on A's object - with a bearer token and again with his `X-Api-Key` - and gets the exact status
   of the row (404 where A's object must not be visible to him, 403 where it is visible but his to change
   is not: public playlists, admin routes) in the error envelope;
4. the state is read again and must equal the first read, JSON for JSON.

The media-state routes (like, progress, plays) act on the caller's own state, so B's calls there succeed;
what must hold is that A's state stays as it was and B's views (item, progress, history, favorites,
recent, frequent, `liked`/`position_s` in the media list) never show A's. Calls without credentials get a
401 on every row. Three checks guard the table itself: every route behind the admin dependency
(`AdminUser`, found by walking each route's dependency tree), every route naming a per-user object by id
and every playback route has a row, and every row names a route that exists.

The world is shared: a real leak in one row (B deletes A's playlist, say) also fails later rows reading
that object. Rate limits are off - this module makes far more calls per user than the API limit allows.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import fastapi.routing
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from medianest.api.deps import AdminUser
from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import BACKENDS, CHEAP_PASSWORDS, PASSWORD, Api, MigratedTemplates, bearer, migrated_database
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer
from tests.integrations.seerr import Seerr
from tests.media import copy_library

pytestmark = pytest.mark.asyncio(loop_scope="module")

CREDS = ("bearer", "api-key")
ERROR_CODES = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}
A_POSITION = {"m1": 123.5, "m2": 55.5}
B_POSITION = 7.25
PAGE = "?per_page=100"
# Path parameters that name an object belonging to one user.
OWNED_PARAMS = ("{key_id}", "{session_id}", "{playlist_id}", "{item_id}", "{download_id}", "{request_id}")
# The dependency behind `AdminUser` (deps._admin), taken from the annotation itself.
ADMIN_CHECK = get_args(AdminUser)[1].dependency


# --- the world ---------------------------------------------------------------------------------------------

@dataclass
class World:
    api: Api
    server: MediaServer
    seerr: Seerr
    tokens: dict[str, str]  # "admin" | "a" | "b" -> access token
    keys: dict[str, str]  # "b" -> his X-Api-Key
    ids: dict[str, str]  # name -> id of the objects the rows aim at (see _build_world)
    spare_media: list[str] = field(default_factory=list)  # for the admin's proofs that edit or delete media

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    @property
    def app(self) -> FastAPI:
        return self.api.app

    def headers(self, who: str, creds: str = "bearer") -> dict[str, str]:
        return {"X-Api-Key": self.keys[who]} if creds == "api-key" else bearer(self.tokens[who])

    async def get(self, who: str, path: str) -> Any:
        r = await self.client.get(path, headers=self.headers(who))
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
        return r.json()["data"]

    async def send(self, who: str, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = await self.client.request(method, path, json=body, headers=self.headers(who))
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()["data"] if r.content else None


def _settings(root: Path, database_url: str, media_source: tuple[Path, dict[str, str]]) -> Settings:
    copy_library(media_source[0], root / "media")
    return Settings(data_dir=root / "data", media_dirs=[root / "media"], database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING", rate_limits_enabled=False,
                    downloads_allow_private_networks=True, downloads_retry_backoff_s=0.2, **CHEAP_PASSWORDS)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                media_source: tuple[Path, dict[str, str]],
                migrated_templates: MigratedTemplates) -> AsyncIterator[World]:
    root = tmp_path_factory.mktemp("access-matrix")
    # MediaServer has nothing registered: every download from it fails with a 404
    with MediaServer() as server, Seerr() as seerr:
        async with migrated_database(request.param, root, migrated_templates) as url:
            app = create_app(_settings(root, url, media_source))
            async with app.router.lifespan_context(app), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
                yield await _build_world(Api(client, app), server, seerr)


async def _build_world(api: Api, server: MediaServer, seerr: Seerr) -> World:
    admin = await api.setup_admin()
    assert (await api.scan())["status"] == "completed"
    tokens = {"admin": admin, "a": await api.create_user(admin, "alice"), "b": await api.create_user(admin, "bob")}
    w = World(api, server, seerr, tokens, {}, {})
    w.ids["alice"] = (await w.get("a", "/api/v1/auth/me"))["id"]
    w.ids["bob"] = (await w.get("b", "/api/v1/auth/me"))["id"]
    media = sorted((m["id"] for m in await api.all_media(admin)), key=int)
    w.ids.update(m1=media[0], m2=media[1], m3=media[2])
    w.spare_media = media[3:]
    await _a_media_state(w)
    await _playlists(w)
    await _keys_and_sessions(w)
    w.ids["a_download"] = await _failed_download(w)
    w.ids["scan"] = await _latest_scan(w)
    await _services_and_requests(w)
    return w


async def _services_and_requests(w: World) -> None:
    """A Seerr connection (requests made as a Seerr user, so they stay pending), a second connection for
    the admin rows, and a request of A's."""
    for tmdb_id in range(1000, 1100):
        w.seerr.add_movie(tmdb_id, f"Film {tmdb_id}", 2001)
    await w.send("admin", "POST", "/api/v1/services", {"kind": "seerr", "name": "Seerr", "url": w.seerr.url,
                                                       "secret": w.seerr.api_key, "options": {"request_user_id": 2}},
                 status=201)
    w.ids["svc"] = (await _fresh_service(w))["service_id"]
    w.ids["a_request"] = (await _fresh_request(w))["request_id"]


async def _a_media_state(w: World) -> None:
    """A likes m1 and m2, has resume points on both and played each once; B has touched nothing yet."""
    for name in ("m1", "m2"):
        base = f"/api/v1/media/{w.ids[name]}"
        await w.send("a", "PUT", f"{base}/like", status=204)
        await w.send("a", "PUT", f"{base}/progress", {"position_s": A_POSITION[name]})
        play = await w.send("a", "POST", f"{base}/plays", {"position_s": 30.0, "listened_s": 30.0}, status=201)
        w.ids[f"a_play_{name}"] = play["id"]


async def _playlists(w: World) -> None:
    for name, public in (("a_private", False), ("a_public", True)):
        made = await _new_playlist(w, "a", public)
        w.ids[name], w.ids[f"{name}_item"] = made["playlist_id"], made["item_id"]
    w.ids["b_playlist"] = (await _new_playlist(w, "b", False))["playlist_id"]


async def _new_playlist(w: World, who: str, public: bool) -> dict[str, str]:
    pl = await w.send(who, "POST", "/api/v1/playlists", {"name": f"{who} {secrets.token_hex(3)}",
                                                          "is_public": public}, status=201)
    for media in ("m1", "m2"):
        detail = await w.send(who, "POST", f"/api/v1/playlists/{pl['id']}/items", {"media_id": w.ids[media]},
                              status=201)
    return {"playlist_id": pl["id"], "item_id": detail["items"][0]["id"]}


async def _keys_and_sessions(w: World) -> None:
    w.ids["a_key"] = (await _new_key(w))["key_id"]
    b_key = await w.send("b", "POST", "/api/v1/auth/api-keys", {"name": "bob's script"}, status=201)
    w.keys["b"] = b_key["key"]
    await w.api.login("alice")  # a second sign-in: A has two sessions
    sessions = [s["id"] for s in await w.get("a", "/api/v1/auth/sessions")]
    assert len(sessions) == 2, sessions
    w.ids["a_session"], w.ids["a_session_2"] = sessions


async def _new_key(w: World) -> dict[str, str]:
    key = await w.send("a", "POST", "/api/v1/auth/api-keys", {"name": f"a {secrets.token_hex(3)}"}, status=201)
    return {"key_id": key["id"]}


async def _failed_download(w: World) -> str:
    dl = await queue(w.api, w.tokens["a"], w.server.url(f"/gone/{secrets.token_hex(4)}.mp4"))
    done = await wait_status(w.api, w.tokens["a"], dl["id"], "failed", "completed")
    assert done["status"] == "failed", done
    return str(dl["id"])


async def _latest_scan(w: World) -> str:
    scan = await w.app.state.parts.scans.latest()
    assert scan is not None
    return str(scan.id)


# --- equivalent objects for the owner's proof ----------------------------------------------------------------

Fresh = Callable[[World], Awaitable[dict[str, str]]]


async def _fresh_private(w: World) -> dict[str, str]:
    return await _new_playlist(w, "a", False)


async def _fresh_public(w: World) -> dict[str, str]:
    return await _new_playlist(w, "a", True)


async def _fresh_session(w: World) -> dict[str, str]:
    before = {s["id"] for s in await w.get("a", "/api/v1/auth/sessions")}
    await w.api.login("alice")
    (new,) = {s["id"] for s in await w.get("a", "/api/v1/auth/sessions")} - before
    return {"session_id": new}


async def _fresh_download(w: World) -> dict[str, str]:
    return {"download_id": await _failed_download(w)}


async def _fresh_user(w: World) -> dict[str, str]:
    user = await w.send("admin", "POST", "/api/v1/users", {"username": f"spare-{secrets.token_hex(3)}",
                                                           "password": PASSWORD, "role": "user"}, status=201)
    return {"user_id": user["id"]}


async def _fresh_service(w: World) -> dict[str, str]:
    made = await w.send("admin", "POST", "/api/v1/services", {
        "kind": "generic_http", "name": f"svc {secrets.token_hex(3)}", "url": w.seerr.url + "/api/v1/status",
        "secret": "s3cret-token"}, status=201)
    return {"service_id": made["id"]}


_TITLES = iter(range(1000, 1100))


async def _fresh_request(w: World) -> dict[str, str]:
    tmdb_id = next(_TITLES)
    made = await w.send("a", "POST", "/api/v1/requests", {"media_type": "movie", "tmdb_id": tmdb_id,
                                                          "title": f"Film {tmdb_id}"}, status=201)
    assert made["status"] == "pending", made
    return {"request_id": made["id"]}


async def _spare_media(w: World) -> dict[str, str]:
    assert w.spare_media, "the library has too few items for the admin's media proofs"
    return {"media_id": w.spare_media.pop()}


async def _scratch_media(w: World) -> dict[str, str]:
    return {"media_id": w.ids["m3"]}  # neither A's state on m3 nor its tags are compared


# --- the rows ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route's own template
    args: Mapping[str, str]  # path parameter -> name in World.ids of the object B aims at
    expect: int = 404  # what B gets
    body: Any = None  # strings may name World.ids entries, e.g. "{m1}"; "{unique}" is new per call
    fresh: Fresh | None = None  # the owner's equivalent object (mutating rows); None: the same object
    query: str = ""

    def __str__(self) -> str:
        fields = "{" + ",".join(self.body) + "}" if isinstance(self.body, dict) else ""
        return " ".join(p for p in (self.method, self.path + self.query, ",".join(self.args.values()), fields) if p)


def _r(method: str, path: str, expect: int = 404, body: Any = None, fresh: Fresh | None = None,
       query: str = "", **args: str) -> Row:
    return Row(method, path, args, expect, body, fresh, query)


KEYS, SESSIONS = "/api/v1/auth/api-keys/{key_id}", "/api/v1/auth/sessions/{session_id}"
PLAYLIST, ITEMS = "/api/v1/playlists/{playlist_id}", "/api/v1/playlists/{playlist_id}/items"
ITEM, EXPORT = ITEMS + "/{item_id}", "/api/v1/playlists/{playlist_id}/export.m3u8"
DOWNLOAD, RETRY = "/api/v1/downloads/{download_id}", "/api/v1/downloads/{download_id}/retry"
REQUEST, SERVICE = "/api/v1/requests/{request_id}", "/api/v1/services/{service_id}"
PWN = {"name": "bob was here", "description": "pwned", "is_public": True}
ADD, MOVE = {"media_id": "{m3}"}, {"position": 1}


def _playlist_rows(which: str, expect: int, fresh: Fresh) -> list[Row]:
    mine, item = {"playlist_id": which}, {"playlist_id": which, "item_id": f"{which}_item"}
    return [_r("PATCH", PLAYLIST, expect, PWN, fresh, **mine), _r("DELETE", PLAYLIST, expect, None, fresh, **mine),
            _r("POST", ITEMS, expect, ADD, fresh, **mine), _r("PATCH", ITEM, expect, MOVE, fresh, **item),
            _r("DELETE", ITEM, expect, None, fresh, **item)]


OWNED = [
    _r("DELETE", KEYS, fresh=_new_key, key_id="a_key"),
    _r("DELETE", SESSIONS, fresh=_fresh_session, session_id="a_session"),
    _r("DELETE", SESSIONS, fresh=_fresh_session, session_id="a_key"),  # an id of another kind
    _r("GET", PLAYLIST, playlist_id="a_private"),
    _r("GET", EXPORT, playlist_id="a_private"),
    *_playlist_rows("a_private", 404, _fresh_private),
    *_playlist_rows("a_public", 403, _fresh_public),  # readable by all, changeable by its owner only
    # A's items through B's own playlist: the item must belong to the playlist named.
    _r("PATCH", ITEM, body=MOVE, fresh=_fresh_private, playlist_id="b_playlist", item_id="a_private_item"),
    _r("DELETE", ITEM, fresh=_fresh_private, playlist_id="b_playlist", item_id="a_private_item"),
    _r("DELETE", ITEM, fresh=_fresh_public, playlist_id="b_playlist", item_id="a_public_item"),
    _r("GET", DOWNLOAD, download_id="a_download"),
    _r("DELETE", DOWNLOAD, fresh=_fresh_download, download_id="a_download"),
    _r("POST", RETRY, fresh=_fresh_download, download_id="a_download"),
    _r("GET", DOWNLOAD, download_id="a_private"),  # ids of other kinds
    _r("POST", RETRY, fresh=_fresh_download, download_id="a_key"),
    _r("GET", REQUEST, request_id="a_request"),
    _r("DELETE", REQUEST, fresh=_fresh_request, request_id="a_request"),
    _r("GET", REQUEST, request_id="a_private"),
]

MEDIA = "/api/v1/media/{media_id}"
PER_CALLER = [
    _r("GET", MEDIA, 200, media_id="m1"),
    _r("PUT", MEDIA + "/like", 204, fresh=_scratch_media, media_id="m1"),
    _r("DELETE", MEDIA + "/like", 204, fresh=_scratch_media, media_id="m1"),
    _r("GET", MEDIA + "/progress", 200, media_id="m1"),
    _r("PUT", MEDIA + "/progress", 200, {"position_s": B_POSITION}, _scratch_media, media_id="m1"),
    _r("POST", MEDIA + "/plays", 201, {"position_s": B_POSITION, "listened_s": 3.0}, _scratch_media,
       media_id="m1"),
]

USER = "/api/v1/users/{user_id}"
ADMIN = [
    _r("GET", "/api/v1/users", 403),
    _r("POST", "/api/v1/users", 403, {"username": "mallory-{unique}", "password": PASSWORD, "role": "admin"}),
    _r("GET", USER, 403, user_id="alice"),
    _r("PATCH", USER, 403, {"status": "suspended"}, _fresh_user, user_id="alice"),
    _r("PATCH", USER, 403, {"role": "admin"}, _fresh_user, user_id="bob"),  # promoting himself
    _r("PATCH", USER, 403, {"password": "bob-owns-alice-now"}, _fresh_user, user_id="alice"),
    _r("DELETE", USER, 403, fresh=_fresh_user, user_id="alice"),
    _r("GET", "/api/v1/audit", 403),
    _r("POST", "/api/v1/library/scans", 403),
    _r("GET", "/api/v1/library/scans/{scan_id}", 403, scan_id="scan"),
    _r("GET", "/api/v1/library/folders", 403),
    _r("PATCH", MEDIA, 403, {"title": "pwned", "genre": "pwned"}, _scratch_media, media_id="m1"),
    _r("DELETE", MEDIA, 403, fresh=_spare_media, media_id="m1"),
    _r("DELETE", MEDIA, 403, fresh=_spare_media, query="?purge=true", media_id="m1"),
    _r("GET", "/api/v1/services", 403),
    _r("POST", "/api/v1/services", 403, {"kind": "generic_http", "name": "mallory-{unique}",
                                         "url": "http://127.0.0.1:9"}),
    _r("GET", SERVICE, 403, service_id="svc"),
    _r("PATCH", SERVICE, 403, {"url": "http://127.0.0.1:9", "secret": "mallory"}, _fresh_service, service_id="svc"),
    _r("DELETE", SERVICE, 403, fresh=_fresh_service, service_id="svc"),
    _r("POST", SERVICE + "/test", 403, service_id="svc"),
]


def _ids(data: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in data}


def _history_media(data: list[dict[str, Any]]) -> set[str]:
    return {entry["media"]["id"] for entry in data}


def _with_state(data: list[dict[str, Any]]) -> set[str]:
    return {m["id"] for m in data if m["liked"] or m["play_count"] or m["position_s"] is not None
            or m["last_played_at"] is not None}


@dataclass(frozen=True)
class ListRow:
    path: str
    query: str
    extract: Callable[[list[dict[str, Any]]], set[str]]
    a_has: str  # name in World.ids: in A's view, never in B's

    def __str__(self) -> str:
        return f"GET {self.path}{self.query} {self.extract.__name__.strip('_')}:{self.a_has}"


LISTS = [
    ListRow("/api/v1/auth/api-keys", "", _ids, "a_key"),
    ListRow("/api/v1/auth/sessions", "", _ids, "a_session"),
    ListRow("/api/v1/auth/sessions", "", _ids, "a_session_2"),
    ListRow("/api/v1/playlists", PAGE, _ids, "a_private"),
    ListRow("/api/v1/playlists", PAGE + "&mine=true", _ids, "a_public"),
    ListRow("/api/v1/downloads", PAGE, _ids, "a_download"),
    ListRow("/api/v1/me/history", PAGE, _ids, "a_play_m1"),
    ListRow("/api/v1/me/history", PAGE, _history_media, "m2"),
    ListRow("/api/v1/me/favorites", PAGE, _ids, "m2"),
    ListRow("/api/v1/me/recent", PAGE, _ids, "m2"),
    ListRow("/api/v1/me/frequent", PAGE, _ids, "m2"),
    ListRow("/api/v1/media", PAGE, _with_state, "m2"),
    ListRow("/api/v1/media", PAGE + "&liked=true", _ids, "m2"),
    ListRow("/api/v1/requests", PAGE, _ids, "a_request"),
]


# --- calls and state -----------------------------------------------------------------------------------------

async def _call(w: World, row: Row, headers: dict[str, str], args: Mapping[str, str]) -> httpx.Response:
    names = {**w.ids, **args, "unique": secrets.token_hex(4)}
    return await w.client.request(row.method, row.path.format_map(names) + row.query,
                                  json=_fill(row.body, names), headers=headers)


def _fill(body: Any, names: Mapping[str, str]) -> Any:
    if isinstance(body, str):
        return body.format_map(names)
    if isinstance(body, dict):
        return {k: _fill(v, names) for k, v in body.items()}
    return body


def _target(w: World, row: Row) -> dict[str, str]:
    return {param: w.ids[name] for param, name in row.args.items()}


async def _prove(w: World, row: Row, owner: str) -> None:
    """The owner's own call on an equivalent object succeeds: the route exists and works."""
    args = {**_target(w, row), **(await row.fresh(w) if row.fresh else {})}
    r = await _call(w, row, w.headers(owner), args)
    assert 200 <= r.status_code < 300, f"owner's proof for {row}: {r.status_code} {r.text}"
    await w.app.state.parts.scans.wait()  # the admin's scan proof runs in the background


def _assert_refused(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == ERROR_CODES[status], body


def _stable(value: Any) -> Any:
    """JSON with the signed media tokens in URLs blanked (they carry their issue time), and a request's
    `synced_at` (the background poll of Seerr moves it, whoever calls what)."""
    if isinstance(value, str):
        return re.sub(r"token=[^&]+", "token=*", value)
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, dict):
        return {k: "*" if k == "synced_at" else _stable(v) for k, v in value.items()}
    return value


async def _read(w: World, who: str, path: str) -> dict[str, Any]:
    r = await w.client.get(path, headers=w.headers(who))
    return {"status": r.status_code, "body": _stable(r.json())}


async def a_state(w: World) -> dict[str, Any]:
    """Everything of A's that the rows aim at, as A sees it."""
    i = w.ids
    paths = [f"/api/v1/playlists/{i['a_private']}", f"/api/v1/playlists/{i['a_public']}",
             f"/api/v1/downloads/{i['a_download']}", f"/api/v1/requests/{i['a_request']}", "/api/v1/auth/me"]
    for m in ("m1", "m2"):
        paths += [f"/api/v1/media/{i[m]}", f"/api/v1/media/{i[m]}/progress"]
    state: dict[str, Any] = {p: await _read(w, "a", p) for p in paths}
    keys = await w.get("a", "/api/v1/auth/api-keys")
    sessions = await w.get("a", "/api/v1/auth/sessions")
    history = await w.get("a", "/api/v1/me/history" + PAGE)
    state["key"] = [k for k in keys if k["id"] == i["a_key"]]
    state["sessions"] = [s for s in sessions if s["id"] in (i["a_session"], i["a_session_2"])]
    state["history"] = _stable([e for e in history if e["media"]["id"] in (i["m1"], i["m2"])])
    return state


async def admin_state(w: World) -> dict[str, Any]:
    """What the admin routes could change: the users, the library, the scans, the service connections."""
    return {"users": await w.get("admin", "/api/v1/users" + PAGE),
            "media": _stable(await w.get("admin", "/api/v1/media" + PAGE)),
            "scan": await _latest_scan(w), "services": [_configured(c) for c in
                                                        await w.get("admin", "/api/v1/services" + PAGE)]}


def _configured(service: dict[str, Any]) -> dict[str, Any]:
    """A connection's settings, without what the periodic status check may update at any minute."""
    return {k: v for k, v in service.items() if k not in ("status", "response_ms", "detail", "checked_at")}


async def _assert_b_sees_only_his_own(w: World) -> None:
    m1, m2 = w.ids["m1"], w.ids["m2"]
    b_m1 = await w.get("b", f"/api/v1/media/{m1}")
    assert b_m1["position_s"] in (None, B_POSITION), b_m1
    assert (await w.get("b", f"/api/v1/media/{m1}/progress"))["position_s"] in (None, B_POSITION)
    b_m2 = await w.get("b", f"/api/v1/media/{m2}")  # B never touches m2
    assert (b_m2["liked"], b_m2["play_count"], b_m2["position_s"], b_m2["last_played_at"]) == (
        False, 0, None, None), b_m2
    history = _ids(await w.get("b", "/api/v1/me/history" + PAGE))
    assert not history & {w.ids["a_play_m1"], w.ids["a_play_m2"]}, history


# --- the tests -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("creds", CREDS)
@pytest.mark.parametrize("row", OWNED, ids=str)
async def test_b_cannot_read_or_change_a_objects(world: World, row: Row, creds: str) -> None:
    await _prove(world, row, "a")
    before = await a_state(world)
    _assert_refused(await _call(world, row, world.headers("b", creds), _target(world, row)), row.expect)
    assert await a_state(world) == before


@pytest.mark.parametrize("creds", CREDS)
@pytest.mark.parametrize("row", PER_CALLER, ids=str)
async def test_media_state_is_per_caller(world: World, row: Row, creds: str) -> None:
    await _prove(world, row, "a")
    before = await a_state(world)
    r = await _call(world, row, world.headers("b", creds), _target(world, row))
    assert r.status_code == row.expect, r.text
    assert await a_state(world) == before
    await _assert_b_sees_only_his_own(world)


@pytest.mark.parametrize("creds", CREDS)
async def test_a_public_playlist_shows_b_his_own_media_state(world: World, creds: str) -> None:
    r = await world.client.get(f"/api/v1/playlists/{world.ids['a_public']}", headers=world.headers("b", creds))
    assert r.status_code == 200, r.text  # public: readable by all
    (m2,) = [i["media"] for i in r.json()["data"]["items"] if i["media_id"] == world.ids["m2"]]
    assert (m2["liked"], m2["play_count"], m2["position_s"], m2["last_played_at"]) == (False, 0, None, None), m2


@pytest.mark.parametrize("creds", CREDS)
async def test_clearing_finished_downloads_is_per_caller(world: World, creds: str) -> None:
    mine = await queue(world.api, world.tokens["b"], world.server.url(f"/gone/{secrets.token_hex(4)}.mp4"))
    await wait_status(world.api, world.tokens["b"], mine["id"], "failed", "completed")
    before = await a_state(world)
    r = await world.client.delete("/api/v1/downloads", headers=world.headers("b", creds))
    assert r.status_code == 200 and r.json()["data"]["removed"] == 1, r.text  # his own, and only that
    assert await a_state(world) == before


@pytest.mark.parametrize("creds", CREDS)
@pytest.mark.parametrize("row", LISTS, ids=str)
async def test_b_lists_never_show_a_objects(world: World, row: ListRow, creds: str) -> None:
    wanted = world.ids[row.a_has]
    assert wanted in row.extract(await world.get("a", row.path + row.query))  # the control: A sees it
    r = await world.client.get(row.path + row.query, headers=world.headers("b", creds))
    assert r.status_code == 200, r.text
    assert wanted not in row.extract(r.json()["data"])


@pytest.mark.parametrize("creds", CREDS)
@pytest.mark.parametrize("row", ADMIN, ids=str)
async def test_user_gets_403_on_admin_routes(world: World, row: Row, creds: str) -> None:
    await _prove(world, row, "admin")
    before = await admin_state(world)
    _assert_refused(await _call(world, row, world.headers("b", creds), _target(world, row)), 403)
    assert await admin_state(world) == before


@pytest.mark.parametrize("row", OWNED + PER_CALLER + ADMIN, ids=str)
async def test_no_credentials_gets_401(world: World, row: Row) -> None:
    before = (await a_state(world), await admin_state(world))
    _assert_refused(await _call(world, row, {}, _target(world, row)), 401)
    assert (await a_state(world), await admin_state(world)) == before


@pytest.mark.parametrize("row", LISTS, ids=str)
async def test_no_credentials_gets_401_on_lists(world: World, row: ListRow) -> None:
    _assert_refused(await world.client.get(row.path + row.query), 401)


# --- the table covers the app ----------------------------------------------------------------------------------

def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route with its full path; newer FastAPI keeps included routers nested in `app.routes`
    and flattens them with `iter_route_contexts` (contexts that pass attributes through to the route)."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = flatten(app.routes) if flatten is not None else app.routes
    return (r for r in routes if isinstance(getattr(r, "original_route", r), APIRoute))


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _pairs(rows: list[Row] | list[ListRow]) -> set[tuple[str, str]]:
    return {(r.method if isinstance(r, Row) else "GET", r.path) for r in rows}


async def test_every_admin_route_has_a_row(world: World) -> None:
    admin = {(m, r.path) for r in _api_routes(world.app) if ADMIN_CHECK in set(_calls(r.dependant))
             for m in r.methods}
    assert len(admin) >= 10, admin  # the walk finds them (users, audit, library, media edits)
    assert admin == _pairs(ADMIN)


async def test_every_per_user_route_has_a_row(world: World) -> None:
    owned = {(m, r.path) for r in _api_routes(world.app) if any(p in r.path for p in OWNED_PARAMS)
             for m in r.methods}
    assert owned - _pairs(OWNED) == set()
    playback = {(m, r.path) for r in _api_routes(world.app) if r.endpoint.__module__ == "medianest.api.routes.playback"
                for m in r.methods}
    assert playback - _pairs(PER_CALLER) - _pairs(LISTS) == set()


async def test_every_row_names_a_route(world: World) -> None:
    routes = {(m, r.path) for r in _api_routes(world.app) for m in r.methods}
    assert _pairs(OWNED + PER_CALLER + ADMIN) | _pairs(LISTS) <= routes
