"""Likes, plays, resume points and the /me lists: per user, through the HTTP API, on a real database."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.conftest import bearer
from tests.playback.conftest import Library


def _error(r, status: int, code: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and "request_id" in err and isinstance(err["details"], dict)
    return err  # type: ignore[no-any-return]


# --- likes -----------------------------------------------------------------------------------------

async def test_like_and_unlike_show_in_item_filter_and_favorites(lib: Library) -> None:
    client, jid = lib.api.client, lib.ids["Jóga"]
    assert (await lib.item(lib.a, "Jóga"))["liked"] is False
    r = await client.put(f"/api/v1/media/{jid}/like", headers=bearer(lib.a))
    assert r.status_code == 204, r.text
    assert (await lib.item(lib.a, "Jóga"))["liked"] is True
    assert await lib.titles(lib.a, "/api/v1/media?liked=true") == ["Jóga"]
    assert "Jóga" not in await lib.titles(lib.a, "/api/v1/media?liked=false&per_page=100")
    favorites = await lib.get(lib.a, "/api/v1/me/favorites")
    assert [i["title"] for i in favorites["data"]] == ["Jóga"]
    assert favorites["meta"] == {"page": 1, "per_page": 50, "total": 1, "has_more": False}

    r = await client.delete(f"/api/v1/media/{jid}/like", headers=bearer(lib.a))
    assert r.status_code == 204, r.text
    assert (await lib.item(lib.a, "Jóga"))["liked"] is False
    assert await lib.titles(lib.a, "/api/v1/media?liked=true") == []
    assert await lib.titles(lib.a, "/api/v1/me/favorites") == []


async def test_like_is_idempotent_and_favorites_newest_first(lib: Library) -> None:
    for title in ("Circle", "Square", "Circle"):  # liking Circle twice keeps its first like time
        r = await lib.api.client.put(f"/api/v1/media/{lib.ids[title]}/like", headers=bearer(lib.a))
        assert r.status_code == 204, r.text
    assert await lib.titles(lib.a, "/api/v1/me/favorites") == ["Square", "Circle"]
    # Unliking something never liked is fine too.
    r = await lib.api.client.delete(f"/api/v1/media/{lib.ids['Jóga']}/like", headers=bearer(lib.a))
    assert r.status_code == 204, r.text


# --- plays -----------------------------------------------------------------------------------------

async def test_play_counts_and_sets_last_played(lib: Library) -> None:
    before = await lib.item(lib.a, "Circle")
    assert before["play_count"] == 0 and before["last_played_at"] is None
    first = await lib.play(lib.a, "Circle", position_s=1.0, listened_s=1.0)
    assert first["play_count"] == 1 and first["media_id"] == lib.ids["Circle"]
    item = await lib.item(lib.a, "Circle")
    assert item["play_count"] == 1
    played_at = datetime.fromisoformat(item["last_played_at"])
    assert played_at.tzinfo is not None
    second = await lib.play(lib.a, "Circle", completed=True)
    assert second["play_count"] == 2
    item = await lib.item(lib.a, "Circle")
    assert item["play_count"] == 2
    assert datetime.fromisoformat(item["last_played_at"]) >= played_at
    assert datetime.fromisoformat(item["last_played_at"]) == datetime.fromisoformat(second["played_at"])


async def test_concurrent_first_plays_both_count(lib: Library) -> None:
    """Two players reporting the first play of an item at once: neither fails, both are counted."""
    url = f"/api/v1/media/{lib.ids['Square']}/plays"
    h = bearer(lib.a)
    results = await asyncio.gather(*(lib.api.client.post(url, json={}, headers=h) for _ in range(4)))
    assert [r.status_code for r in results] == [201] * 4, [r.text for r in results]
    assert (await lib.item(lib.a, "Square"))["play_count"] == 4


async def test_history_recent_and_frequent(lib: Library) -> None:
    for title in ("Circle", "Circle", "Circle", "Square", "Jóga"):
        await lib.play(lib.a, title)
    history = await lib.get(lib.a, "/api/v1/me/history")
    assert [h["media"]["title"] for h in history["data"]] == ["Jóga", "Square", "Circle", "Circle", "Circle"]
    assert history["meta"]["total"] == 5
    stamps = [h["played_at"] for h in history["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert history["data"][0]["media"]["play_count"] == 1
    page2 = await lib.get(lib.a, "/api/v1/me/history", page=2, per_page=2)
    assert [h["media"]["title"] for h in page2["data"]] == ["Circle", "Circle"]
    assert page2["meta"] == {"page": 2, "per_page": 2, "total": 5, "has_more": True}

    assert await lib.titles(lib.a, "/api/v1/me/recent") == ["Jóga", "Square", "Circle"]
    frequent = await lib.get(lib.a, "/api/v1/me/frequent")
    assert (frequent["data"][0]["title"], frequent["data"][0]["play_count"]) == ("Circle", 3)
    assert {i["title"] for i in frequent["data"][1:]} == {"Square", "Jóga"}
    # Playing Square again makes it the most recent, still behind Circle in frequency.
    await lib.play(lib.a, "Square")
    assert (await lib.titles(lib.a, "/api/v1/me/recent"))[0] == "Square"
    assert await lib.titles(lib.a, "/api/v1/me/frequent") == ["Circle", "Square", "Jóga"]


async def test_lists_skip_soft_deleted_media(lib: Library) -> None:
    await lib.play(lib.a, "Circle")
    await lib.api.client.put(f"/api/v1/media/{lib.ids['Circle']}/like", headers=bearer(lib.a))
    r = await lib.api.client.delete(f"/api/v1/media/{lib.ids['Circle']}", headers=bearer(lib.admin))
    assert r.status_code == 204, r.text
    for path in ("/api/v1/me/history", "/api/v1/me/recent", "/api/v1/me/frequent", "/api/v1/me/favorites"):
        body = await lib.get(lib.a, path)
        assert body["data"] == [] and body["meta"]["total"] == 0, path
    r = await lib.api.client.post(f"/api/v1/media/{lib.ids['Circle']}/plays", json={}, headers=bearer(lib.a))
    _error(r, 404, "NOT_FOUND")


# --- resume points ---------------------------------------------------------------------------------

async def test_progress_put_then_get(lib: Library) -> None:
    url = f"/api/v1/media/{lib.ids['Bars Clip']}/progress"
    r = await lib.api.client.get(url, headers=bearer(lib.a))
    assert r.status_code == 200 and r.json()["data"]["position_s"] is None, r.text
    r = await lib.api.client.put(url, json={"position_s": 1.5}, headers=bearer(lib.a))
    assert r.status_code == 200, r.text
    assert r.json()["data"]["position_s"] == 1.5
    r = await lib.api.client.get(url, headers=bearer(lib.a))
    assert r.json()["data"] == {**r.json()["data"], "position_s": 1.5, "media_id": lib.ids["Bars Clip"]}
    assert r.json()["data"]["updated_at"] is not None
    assert (await lib.item(lib.a, "Bars Clip"))["position_s"] == 1.5
    # Saving a resume point is not a play.
    assert (await lib.item(lib.a, "Bars Clip"))["play_count"] == 0


async def test_completed_play_clears_resume_point(lib: Library) -> None:
    url = f"/api/v1/media/{lib.ids['Motion Study']}/progress"
    await lib.api.client.put(url, json={"position_s": 1.0}, headers=bearer(lib.a))
    await lib.play(lib.a, "Motion Study", position_s=2.9, listened_s=2.9, completed=True)
    r = await lib.api.client.get(url, headers=bearer(lib.a))
    assert r.json()["data"]["position_s"] is None
    assert (await lib.item(lib.a, "Motion Study"))["position_s"] is None


async def test_partial_play_keeps_where_it_stopped(lib: Library) -> None:
    url = f"/api/v1/media/{lib.ids['Motion Study']}/progress"
    await lib.play(lib.a, "Motion Study", position_s=1.25, listened_s=1.25)
    assert (await lib.api.client.get(url, headers=bearer(lib.a))).json()["data"]["position_s"] == 1.25
    # A report without a position says nothing about where playback stopped: the resume point stays.
    await lib.play(lib.a, "Motion Study", listened_s=0.5)
    assert (await lib.api.client.get(url, headers=bearer(lib.a))).json()["data"]["position_s"] == 1.25


# --- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("media_id", ["999999", "abc", "1e3", "-1", "٣"])
async def test_unknown_or_malformed_media_id_is_404(lib: Library, media_id: str) -> None:
    c, h = lib.api.client, bearer(lib.a)
    base = f"/api/v1/media/{media_id}"
    calls = [c.put(f"{base}/like", headers=h), c.delete(f"{base}/like", headers=h),
             c.post(f"{base}/plays", json={}, headers=h), c.get(f"{base}/progress", headers=h),
             c.put(f"{base}/progress", json={"position_s": 1}, headers=h)]
    for r in [await call for call in calls]:
        err = _error(r, 404, "NOT_FOUND")
        assert err["details"]["kind"] == "media"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("progress", {"position_s": -1}, "body.position_s"),
    ("progress", {}, "body.position_s"),
    ("progress", {"position_s": "soon"}, "body.position_s"),
    ("progress", {"position_s": 1e12}, "body.position_s"),
    ("plays", {"position_s": -0.5}, "body.position_s"),
    ("plays", {"listened_s": -3}, "body.listened_s"),
])
async def test_bad_numbers_are_422_naming_the_field(lib: Library, path: str, body: dict, field: str) -> None:  # type: ignore[type-arg]
    method = lib.api.client.put if path == "progress" else lib.api.client.post
    r = await method(f"/api/v1/media/{lib.ids['Circle']}/{path}", json=body, headers=bearer(lib.a))
    err = _error(r, 422, "VALIDATION_ERROR")
    assert field in [f["field"] for f in err["details"]["fields"]], err
    assert (await lib.item(lib.a, "Circle"))["play_count"] == 0


async def test_nan_position_is_rejected(lib: Library) -> None:
    url = f"/api/v1/media/{lib.ids['Circle']}/progress"
    r = await lib.api.client.put(url, content=b'{"position_s": NaN}',
                                 headers={**bearer(lib.a), "content-type": "application/json"})
    _error(r, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/media/{id}/like"), ("DELETE", "/media/{id}/like"), ("POST", "/media/{id}/plays"),
    ("GET", "/media/{id}/progress"), ("PUT", "/media/{id}/progress"), ("GET", "/me/history"),
    ("GET", "/me/favorites"), ("GET", "/me/frequent"), ("GET", "/me/recent"),
])
async def test_unauthenticated_is_401(lib: Library, method: str, path: str) -> None:
    url = "/api/v1" + path.format(id=lib.ids["Circle"])
    for headers in ({}, bearer("not-a-token")):
        r = await lib.api.client.request(method, url, json={"position_s": 1}, headers=headers)
        _error(r, 401, "UNAUTHORIZED")


# --- isolation between users -----------------------------------------------------------------------

async def test_user_b_never_sees_user_a_state(lib: Library) -> None:
    c = lib.api.client
    await c.put(f"/api/v1/media/{lib.ids['Jóga']}/like", headers=bearer(lib.a))
    await lib.play(lib.a, "Jóga", position_s=1.0)
    await c.put(f"/api/v1/media/{lib.ids['Circle']}/progress", json={"position_s": 2.0},
                headers=bearer(lib.a))

    for title in ("Jóga", "Circle"):
        seen = await lib.item(lib.b, title)
        assert (seen["liked"], seen["play_count"], seen["last_played_at"], seen["position_s"]) == (
            False, 0, None, None), seen
    assert (await lib.item(lib.a, "Jóga"))["liked"] is True
    listed = {i["title"]: i for i in await lib.api.all_media(lib.b)}
    assert listed["Jóga"]["liked"] is False and listed["Jóga"]["play_count"] == 0
    assert await lib.titles(lib.b, "/api/v1/media?liked=true") == []
    for path in ("/api/v1/me/history", "/api/v1/me/favorites", "/api/v1/me/frequent", "/api/v1/me/recent"):
        assert (await lib.get(lib.b, path))["data"] == [], path
    r = await c.get(f"/api/v1/media/{lib.ids['Circle']}/progress", headers=bearer(lib.b))
    assert r.json()["data"]["position_s"] is None

    # B's own play counts separately and leaves A's count alone.
    assert (await lib.play(lib.b, "Jóga"))["play_count"] == 1
    assert (await lib.item(lib.a, "Jóga"))["play_count"] == 1
    history_a = (await lib.get(lib.a, "/api/v1/me/history"))["data"]
    assert len(history_a) == 1 and history_a[0]["media"]["liked"] is True
