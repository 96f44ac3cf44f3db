"""Playlists through the HTTP API: CRUD, ordering, sharing rules, soft-deleted media."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import bearer
from tests.playback.conftest import Library

PL = "/api/v1/playlists"


def _error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == code and err["message"] and "request_id" in err and isinstance(err["details"], dict)
    return err


async def create(lib: Library, token: str, name: str = "Mix", **extra: Any) -> dict[str, Any]:
    r = await lib.api.client.post(PL, json={"name": name, **extra}, headers=bearer(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def add(lib: Library, token: str, pid: str, title: str, position: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"media_id": lib.ids[title]}
    if position is not None:
        body["position"] = position
    r = await lib.api.client.post(f"{PL}/{pid}/items", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def detail(lib: Library, token: str, pid: str) -> dict[str, Any]:
    data: dict[str, Any] = (await lib.get(token, f"{PL}/{pid}"))["data"]
    return data


def order(playlist: dict[str, Any]) -> list[str]:
    """Titles in playlist order, after checking positions are exactly 0..n-1."""
    items = playlist["items"]
    assert [i["position"] for i in items] == list(range(len(items))), items
    assert playlist["item_count"] == len(items)
    return [i["media"]["title"] for i in items]


def item_id(playlist: dict[str, Any], title: str) -> str:
    return next(i["id"] for i in playlist["items"] if i["media"]["title"] == title)


async def move(lib: Library, pid: str, iid: str, position: int) -> dict[str, Any]:
    url = f"{PL}/{pid}/items/{iid}"
    r = await lib.api.client.patch(url, json={"position": position}, headers=bearer(lib.a))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


# --- create, rename, delete ------------------------------------------------------------------------

async def test_create_rename_and_delete(lib: Library) -> None:
    pl = await create(lib, lib.a, "  Road trip  ", description="long drive")
    assert (pl["name"], pl["description"], pl["is_public"], pl["item_count"], pl["duration_s"]) == (
        "Road trip", "long drive", False, 0, 0)
    me = (await lib.get(lib.a, "/api/v1/auth/me"))["data"]
    assert pl["owner_id"] == me["id"]
    assert (await detail(lib, lib.a, pl["id"]))["items"] == []

    r = await lib.api.client.patch(f"{PL}/{pl['id']}", json={"name": "Night drive"}, headers=bearer(lib.a))
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["name"], r.json()["data"]["description"]) == ("Night drive", "long drive")
    r = await lib.api.client.patch(f"{PL}/{pl['id']}", json={"description": None, "is_public": True},
                                   headers=bearer(lib.a))
    assert (r.json()["data"]["description"], r.json()["data"]["is_public"]) == (None, True)
    assert (await detail(lib, lib.a, pl["id"]))["name"] == "Night drive"
    listed = await lib.get(lib.a, PL)
    assert [p["name"] for p in listed["data"]] == ["Night drive"]
    assert listed["meta"] == {"page": 1, "per_page": 50, "total": 1, "has_more": False}

    await add(lib, lib.a, pl["id"], "Circle")
    r = await lib.api.client.delete(f"{PL}/{pl['id']}", headers=bearer(lib.a))
    assert r.status_code == 204, r.text
    _error(await lib.api.client.get(f"{PL}/{pl['id']}", headers=bearer(lib.a)), 404, "NOT_FOUND")
    _error(await lib.api.client.delete(f"{PL}/{pl['id']}", headers=bearer(lib.a)), 404, "NOT_FOUND")
    assert (await lib.get(lib.a, PL))["data"] == []
    # A new playlist never inherits the deleted one's items (SQLite may reuse the row id).
    again = await create(lib, lib.a, "Fresh")
    assert (await detail(lib, lib.a, again["id"]))["items"] == []


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 256}, {"name": 5},
                                  {"name": "ok", "is_public": "maybe"}])
async def test_create_rejects_bad_bodies(lib: Library, body: dict[str, Any]) -> None:
    r = await lib.api.client.post(PL, json=body, headers=bearer(lib.a))
    err = _error(r, 422, "VALIDATION_ERROR")
    assert err["details"]["fields"], err


async def test_control_characters_in_names_are_422_not_500(lib: Library) -> None:
    """NUL cannot be stored by PostgreSQL at all; a name is one line of text."""
    c, h = lib.api.client, bearer(lib.a)
    for body in ({"name": "a\u0000b"}, {"name": "two\nlines"}, {"name": "ok", "description": "nul \u0000"}):
        assert _error(await c.post(PL, json=body, headers=h), 422, "VALIDATION_ERROR")["details"]["fields"]
    pl = await create(lib, lib.a, "Fine", description="line one\nline two\twith a tab")
    assert pl["description"] == "line one\nline two\twith a tab"
    r = await c.patch(f"{PL}/{pl['id']}", json={"name": "x\u0000"}, headers=h)
    _error(r, 422, "VALIDATION_ERROR")
    r = await c.post(f"{PL}/import", params={"name": "x\u0000y"}, content=b"#EXTM3U\n", headers=h)
    _error(r, 422, "VALIDATION_ERROR")
    assert [p["name"] for p in (await lib.get(lib.a, PL))["data"]] == ["Fine"]


async def test_rename_to_blank_is_rejected(lib: Library) -> None:
    pl = await create(lib, lib.a)
    for name in ("", "  "):
        r = await lib.api.client.patch(f"{PL}/{pl['id']}", json={"name": name}, headers=bearer(lib.a))
        _error(r, 422, "VALIDATION_ERROR")
    assert (await detail(lib, lib.a, pl["id"]))["name"] == "Mix"


# --- items: add, move, remove ----------------------------------------------------------------------

async def test_add_at_end_and_at_position_with_totals(lib: Library) -> None:
    pl = await create(lib, lib.a)
    out = await add(lib, lib.a, pl["id"], "Circle")
    assert order(out) == ["Circle"]  # the response is the whole playlist
    await add(lib, lib.a, pl["id"], "Square")
    await add(lib, lib.a, pl["id"], "Jóga", position=0)
    await add(lib, lib.a, pl["id"], "Bars Clip", position=2)
    out = await add(lib, lib.a, pl["id"], "Motion Study", position=999)  # past the end: appended
    assert order(out) == ["Jóga", "Circle", "Bars Clip", "Square", "Motion Study"]
    got = await detail(lib, lib.a, pl["id"])
    assert order(got) == ["Jóga", "Circle", "Bars Clip", "Square", "Motion Study"]
    durations = [i["media"]["duration_s"] for i in got["items"]]
    assert all(d and d > 1 for d in durations), durations
    assert got["duration_s"] == pytest.approx(sum(durations), abs=0.01)
    assert [i["media_id"] for i in got["items"]] == [lib.ids[t] for t in order(got)]
    summary = next(p for p in (await lib.get(lib.a, PL))["data"] if p["id"] == pl["id"])
    assert (summary["item_count"], summary["duration_s"]) == (5, got["duration_s"])
    assert summary.get("items") is None


async def test_same_media_twice_is_two_items(lib: Library) -> None:
    pl = await create(lib, lib.a)
    await add(lib, lib.a, pl["id"], "Circle")
    out = await add(lib, lib.a, pl["id"], "Circle")
    assert order(out) == ["Circle", "Circle"]
    assert len({i["id"] for i in out["items"]}) == 2


async def test_move_items_down_and_up(lib: Library) -> None:
    pl = await create(lib, lib.a)
    titles = ["Jóga", "Bachelorette", "Circle", "Square", "Bars Clip"]
    for t in titles:
        out = await add(lib, lib.a, pl["id"], t)
    assert order(out) == titles
    out = await move(lib, pl["id"], item_id(out, "Jóga"), 3)  # down
    assert order(out) == ["Bachelorette", "Circle", "Square", "Jóga", "Bars Clip"]
    out = await move(lib, pl["id"], item_id(out, "Bars Clip"), 0)  # up, from the end
    assert order(out) == ["Bars Clip", "Bachelorette", "Circle", "Square", "Jóga"]
    out = await move(lib, pl["id"], item_id(out, "Circle"), 1)  # up by one
    assert order(out) == ["Bars Clip", "Circle", "Bachelorette", "Square", "Jóga"]
    out = await move(lib, pl["id"], item_id(out, "Bars Clip"), 50)  # past the end: last
    assert order(out) == ["Circle", "Bachelorette", "Square", "Jóga", "Bars Clip"]
    out = await move(lib, pl["id"], item_id(out, "Square"), 2)  # to where it already is
    assert order(out) == ["Circle", "Bachelorette", "Square", "Jóga", "Bars Clip"]
    final = ["Circle", "Bachelorette", "Square", "Jóga", "Bars Clip"]
    assert order(out) == order(await detail(lib, lib.a, pl["id"])) == final


async def test_remove_keeps_positions_contiguous(lib: Library) -> None:
    pl = await create(lib, lib.a)
    for t in ["Jóga", "Bachelorette", "Circle", "Square"]:
        out = await add(lib, lib.a, pl["id"], t)
    for title, left in (("Bachelorette", ["Jóga", "Circle", "Square"]), ("Square", ["Jóga", "Circle"]),
                        ("Jóga", ["Circle"])):
        r = await lib.api.client.delete(f"{PL}/{pl['id']}/items/{item_id(out, title)}", headers=bearer(lib.a))
        assert r.status_code == 204, r.text
        out = await detail(lib, lib.a, pl["id"])
        assert order(out) == left
    r = await lib.api.client.delete(f"{PL}/{pl['id']}/items/{item_id(out, 'Circle')}", headers=bearer(lib.a))
    assert r.status_code == 204
    out = await detail(lib, lib.a, pl["id"])
    assert (out["items"], out["item_count"], out["duration_s"]) == ([], 0, 0)


async def test_concurrent_changes_keep_positions_contiguous(lib: Library) -> None:
    """Several clients changing one playlist at once: no two items end up at the same position."""
    pl = await create(lib, lib.a)
    titles = ["Jóga", "Bachelorette", "Circle", "Square", "Bars Clip", "Motion Study"]
    url, h = f"{PL}/{pl['id']}/items", bearer(lib.a)
    results = await asyncio.gather(*(lib.api.client.post(url, json={"media_id": lib.ids[t]}, headers=h)
                                     for t in titles))
    assert [r.status_code for r in results] == [201] * len(titles), [r.text for r in results]
    out = await detail(lib, lib.a, pl["id"])
    assert sorted(order(out)) == sorted(titles)
    doomed = [i["id"] for i in out["items"][:3]]
    moved = [out["items"][4]["id"], out["items"][5]["id"]]
    results = await asyncio.gather(*(lib.api.client.delete(f"{url}/{i}", headers=h) for i in doomed),
                                   *(lib.api.client.patch(f"{url}/{i}", json={"position": 0}, headers=h)
                                     for i in moved))
    assert [r.status_code for r in results] == [204] * 3 + [200] * 2, [r.text for r in results]
    out = await detail(lib, lib.a, pl["id"])
    assert len(order(out)) == 3 and {i["id"] for i in out["items"]} >= set(moved)


async def test_item_ids_are_scoped_to_their_playlist(lib: Library) -> None:
    one, two = await create(lib, lib.a, "One"), await create(lib, lib.a, "Two")
    out = await add(lib, lib.a, one["id"], "Circle")
    iid = out["items"][0]["id"]
    c, h = lib.api.client, bearer(lib.a)
    for r in (await c.patch(f"{PL}/{two['id']}/items/{iid}", json={"position": 0}, headers=h),
              await c.delete(f"{PL}/{two['id']}/items/{iid}", headers=h),
              await c.delete(f"{PL}/{one['id']}/items/999999", headers=h),
              await c.delete(f"{PL}/{one['id']}/items/abc", headers=h)):
        _error(r, 404, "NOT_FOUND")
    assert order(await detail(lib, lib.a, one["id"])) == ["Circle"]


@pytest.mark.parametrize("body", [{"media_id": "999999"}, {"media_id": "abc"}, {"media_id": "-3"}])
async def test_adding_unknown_media_is_404(lib: Library, body: dict[str, Any]) -> None:
    pl = await create(lib, lib.a)
    r = await lib.api.client.post(f"{PL}/{pl['id']}/items", json=body, headers=bearer(lib.a))
    assert _error(r, 404, "NOT_FOUND")["details"]["kind"] == "media"
    assert (await detail(lib, lib.a, pl["id"]))["items"] == []


@pytest.mark.parametrize("body", [{}, {"media_id": 5}, {"position": 0}, {"media_id": "1", "position": -1},
                                  {"media_id": "1", "position": "first"}])
async def test_bad_item_bodies_are_422(lib: Library, body: dict[str, Any]) -> None:
    pl = await create(lib, lib.a)
    r = await lib.api.client.post(f"{PL}/{pl['id']}/items", json=body, headers=bearer(lib.a))
    assert _error(r, 422, "VALIDATION_ERROR")["details"]["fields"]


async def test_negative_move_is_422(lib: Library) -> None:
    pl = await create(lib, lib.a)
    out = await add(lib, lib.a, pl["id"], "Circle")
    r = await lib.api.client.patch(f"{PL}/{pl['id']}/items/{out['items'][0]['id']}", json={"position": -1},
                                   headers=bearer(lib.a))
    fields = _error(r, 422, "VALIDATION_ERROR")["details"]["fields"]
    assert "body.position" in [f["field"] for f in fields]


# --- soft-deleted media ----------------------------------------------------------------------------

async def test_adding_soft_deleted_media_is_404(lib: Library) -> None:
    pl = await create(lib, lib.a)
    r = await lib.api.client.delete(f"/api/v1/media/{lib.ids['Circle']}", headers=bearer(lib.admin))
    assert r.status_code == 204, r.text
    r = await lib.api.client.post(f"{PL}/{pl['id']}/items", json={"media_id": lib.ids["Circle"]},
                                  headers=bearer(lib.a))
    _error(r, 404, "NOT_FOUND")
    assert (await detail(lib, lib.a, pl["id"]))["item_count"] == 0


async def test_soft_deleted_media_drops_out_and_positions_stay_contiguous(lib: Library) -> None:
    pl = await create(lib, lib.a)
    for t in ["Jóga", "Circle", "Square", "Bars Clip"]:
        await add(lib, lib.a, pl["id"], t)
    r = await lib.api.client.delete(f"/api/v1/media/{lib.ids['Circle']}", headers=bearer(lib.admin))
    assert r.status_code == 204, r.text
    out = await detail(lib, lib.a, pl["id"])
    assert order(out) == ["Jóga", "Square", "Bars Clip"]
    assert out["duration_s"] == pytest.approx(sum(i["media"]["duration_s"] for i in out["items"]), abs=0.01)
    # Positions the client sees are the ones it can send back.
    out = await move(lib, pl["id"], item_id(out, "Bars Clip"), 1)
    assert order(out) == ["Jóga", "Bars Clip", "Square"]
    out = await move(lib, pl["id"], item_id(out, "Jóga"), 2)
    assert order(out) == ["Bars Clip", "Square", "Jóga"]
    out = await add(lib, lib.a, pl["id"], "Motion Study", position=3)
    assert order(out) == ["Bars Clip", "Square", "Jóga", "Motion Study"]


# --- sharing: private and public -------------------------------------------------------------------

async def test_private_playlist_does_not_exist_for_others(lib: Library) -> None:
    pl = await create(lib, lib.a, "Secret")
    out = await add(lib, lib.a, pl["id"], "Circle")
    pid, iid = pl["id"], out["items"][0]["id"]
    c, h = lib.api.client, bearer(lib.b)
    for r in (await c.get(f"{PL}/{pid}", headers=h),
              await c.patch(f"{PL}/{pid}", json={"name": "mine now"}, headers=h),
              await c.delete(f"{PL}/{pid}", headers=h),
              await c.post(f"{PL}/{pid}/items", json={"media_id": lib.ids["Square"]}, headers=h),
              await c.patch(f"{PL}/{pid}/items/{iid}", json={"position": 0}, headers=h),
              await c.delete(f"{PL}/{pid}/items/{iid}", headers=h),
              await c.get(f"{PL}/{pid}/export.m3u8", headers=h)):
        assert _error(r, 404, "NOT_FOUND")["details"]["kind"] == "playlist", r.text
    got = await detail(lib, lib.a, pid)
    assert (got["name"], order(got)) == ("Secret", ["Circle"])
    # Even an admin does not read someone else's private playlist.
    _error(await c.get(f"{PL}/{pid}", headers=bearer(lib.admin)), 404, "NOT_FOUND")


async def test_public_playlist_is_readable_but_not_changeable_by_others(lib: Library) -> None:
    pl = await create(lib, lib.a, "Shared", is_public=True)
    out = await add(lib, lib.a, pl["id"], "Circle")
    await add(lib, lib.a, pl["id"], "Square")
    pid, iid = pl["id"], out["items"][0]["id"]
    await lib.api.client.put(f"/api/v1/media/{lib.ids['Circle']}/like", headers=bearer(lib.a))

    seen = await detail(lib, lib.b, pid)
    assert order(seen) == ["Circle", "Square"]
    assert seen["items"][0]["media"]["liked"] is False  # B sees B's own state on A's items
    r = await lib.api.client.get(f"{PL}/{pid}/export.m3u8", headers=bearer(lib.b))
    assert r.status_code == 200 and r.text.startswith("#EXTM3U")
    c, h = lib.api.client, bearer(lib.b)
    for r in (await c.patch(f"{PL}/{pid}", json={"name": "mine now"}, headers=h),
              await c.delete(f"{PL}/{pid}", headers=h),
              await c.post(f"{PL}/{pid}/items", json={"media_id": lib.ids["Jóga"]}, headers=h),
              await c.patch(f"{PL}/{pid}/items/{iid}", json={"position": 1}, headers=h),
              await c.delete(f"{PL}/{pid}/items/{iid}", headers=h)):
        _error(r, 403, "FORBIDDEN")
    got = await detail(lib, lib.a, pid)
    assert (got["name"], order(got)) == ("Shared", ["Circle", "Square"])

    # Made private again, it is gone for B.
    await lib.api.client.patch(f"{PL}/{pid}", json={"is_public": False}, headers=bearer(lib.a))
    _error(await c.get(f"{PL}/{pid}", headers=h), 404, "NOT_FOUND")


async def test_list_shows_own_and_others_public_only(lib: Library) -> None:
    await create(lib, lib.a, "A private")
    await create(lib, lib.a, "A public", is_public=True)
    await create(lib, lib.b, "B private")
    names_b = [p["name"] for p in (await lib.get(lib.b, PL))["data"]]
    assert names_b == ["A public", "B private"]
    assert [p["name"] for p in (await lib.get(lib.b, PL, mine="true"))["data"]] == ["B private"]
    names_a = [p["name"] for p in (await lib.get(lib.a, PL))["data"]]
    assert names_a == ["A private", "A public"]
    paged = await lib.get(lib.a, PL, per_page=1, page=2)
    assert [p["name"] for p in paged["data"]] == ["A public"]
    assert paged["meta"] == {"page": 2, "per_page": 1, "total": 2, "has_more": False}


@pytest.mark.parametrize("pid", ["abc", "999999", "1.0", "0x1"])
async def test_unknown_playlist_is_404(lib: Library, pid: str) -> None:
    c, h = lib.api.client, bearer(lib.a)
    for r in (await c.get(f"{PL}/{pid}", headers=h), await c.delete(f"{PL}/{pid}", headers=h),
              await c.patch(f"{PL}/{pid}", json={"name": "x"}, headers=h),
              await c.get(f"{PL}/{pid}/export.m3u8", headers=h)):
        _error(r, 404, "NOT_FOUND")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", ""), ("POST", ""), ("GET", "/1"), ("PATCH", "/1"), ("DELETE", "/1"), ("POST", "/1/items"),
    ("PATCH", "/1/items/1"), ("DELETE", "/1/items/1"), ("GET", "/1/export.m3u8"), ("POST", "/import"),
])
async def test_unauthenticated_is_401(lib: Library, method: str, path: str) -> None:
    pl = await create(lib, lib.a, is_public=True)
    url = PL + path.replace("/1", f"/{pl['id']}", 1)
    r = await lib.api.client.request(method, url, json={"name": "x", "media_id": "1", "position": 0})
    _error(r, 401, "UNAUTHORIZED")
