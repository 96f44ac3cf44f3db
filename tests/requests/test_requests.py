"""/api/v1/requests against the Seerr stand-in on 127.0.0.1: search (availability, the cache and its stale
fallback, query encoding), creating requests (pending or approved, duplicates, Seerr down, the rate limit),
following and withdrawing them, and the periodic sync that brings their status up to date."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from medianest.requests import service
from medianest.requests.models import MediaRequest
from tests.conftest import Api, bearer
from tests.integrations.quiet import overrides, settings  # noqa: F401 - fixtures
from tests.integrations.seerr import (
    MEDIA_AVAILABLE,
    MEDIA_PARTIALLY_AVAILABLE,
    MEDIA_PENDING,
    MEDIA_PROCESSING,
    REQUEST_APPROVED,
    REQUEST_DECLINED,
    REQUEST_PENDING,
    Seerr,
)

SEARCH = "/api/v1/requests/search"
REQUESTS = "/api/v1/requests"
SEERR_KEY = "seerr-test-key"
PENDING_AT_SEERR = {"request_user_id": 2}  # requests made as Seerr's plain user stay pending there




@pytest.fixture
def seerr() -> Iterator[Seerr]:
    with Seerr(api_key=SEERR_KEY) as server:
        server.add_movie(603, "The Matrix", 1999, "A hacker learns the truth")
        server.add_movie(604, "The Matrix Reloaded", 2003)
        server.add_movie(194, "Amélie", 2001)
        server.add_movie(11, "Star Quest One", 2010)
        server.add_movie(12, "Star Quest Two", 2011)
        server.add_movie(13, "Star Quest Three", 2012)
        server.add_movie(14, "Star Quest Four", 2013)
        server.add_tv(21, "Star Quest: The Series", 2015, seasons=3)
        server.add_tv(1396, "Breaking Bad", 2008, seasons=3)
        yield server


async def connect(api: Api, admin: str, seerr: Seerr, options: dict[str, Any] | None = None) -> str:
    r = await api.client.post("/api/v1/services", headers=bearer(admin), json={
        "kind": "seerr", "name": "Seerr", "url": seerr.url, "secret": SEERR_KEY, "options": options or {}})
    assert r.status_code == 201, r.text
    service_id: str = r.json()["data"]["id"]
    return service_id


async def search(api: Api, token: str, q: str, page: int | None = None, expect: int = 200) -> dict[str, Any]:
    params: dict[str, Any] = {"q": q} | ({"page": page} if page is not None else {})
    r = await api.client.get(SEARCH, params=params, headers=bearer(token))
    assert r.status_code == expect, r.text
    body: dict[str, Any] = r.json()
    return body


async def create(api: Api, token: str, tmdb_id: int, title: str, media_type: str = "movie", expect: int = 201,
                 **extra: Any) -> dict[str, Any]:
    r = await api.client.post(REQUESTS, headers=bearer(token),
                              json={"media_type": media_type, "tmdb_id": tmdb_id, "title": title, **extra})
    assert r.status_code == expect, r.text
    body: dict[str, Any] = r.json()
    return body["data"] if expect == 201 else body


async def listed(api: Api, token: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.client.get(REQUESTS, params=params, headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meta"]["total"] == len(body["data"])
    items: list[dict[str, Any]] = body["data"]
    return items


async def fetch(api: Api, token: str, request_id: str, expect: int = 200) -> dict[str, Any]:
    r = await api.client.get(f"{REQUESTS}/{request_id}", headers=bearer(token))
    assert r.status_code == expect, r.text
    body: dict[str, Any] = r.json()
    return body["data"] if expect == 200 else body["error"]


async def sync(app: FastAPI) -> int:
    return await service.sync(app.state.parts.sessions, app.state.parts.integrations, app.state.parts.notifier)


async def local_rows(app: FastAPI) -> int:
    async with app.state.parts.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MediaRequest)) or 0)


def searches(seerr: Seerr) -> list[str | None]:
    return [r.arg("query") for r in seerr.calls("GET", "/api/v1/search")]


def events_since(app: FastAPI, mark: int) -> list[tuple[str, dict[str, Any], Any]]:
    return [e for e in list(app.state.parts.notifier.recent)[mark:] if e[0] == "request:updated"]


def seerr_request_ids(seerr: Seerr) -> list[int]:
    return [r["id"] for r in seerr.requests_made()]


# -- search ------------------------------------------------------------------------------------------------------


async def test_search_marks_what_seerr_knows(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    await connect(api, admin, seerr)
    seerr.set_media_status("movie", 12, MEDIA_PENDING)
    seerr.set_media_status("movie", 13, MEDIA_PROCESSING)
    seerr.set_media_status("movie", 14, MEDIA_AVAILABLE)
    seerr.set_media_status("tv", 21, MEDIA_PARTIALLY_AVAILABLE)

    body = await search(api, alice, "star quest")
    found = {(r["media_type"], r["tmdb_id"]): r for r in body["data"]}
    assert {k: r["availability"] for k, r in found.items()} == {
        ("movie", 11): "not_requested", ("movie", 12): "requested", ("movie", 13): "processing",
        ("movie", 14): "available", ("tv", 21): "partially_available"}
    assert all(r["request_id"] is None for r in body["data"])
    one = found[("movie", 11)]
    assert (one["title"], one["year"], one["poster_path"]) == ("Star Quest One", 2010, "/poster-movie-11.jpg")
    assert one["poster_url"] == "https://image.tmdb.org/t/p/w300/poster-movie-11.jpg"
    assert found[("tv", 21)]["title"] == "Star Quest: The Series"
    assert body["meta"]["stale"] is False
    assert (body["meta"]["page"], body["meta"]["total"], body["meta"]["has_more"]) == (1, 5, False)


async def test_a_request_made_here_counts_before_seerr_catches_up(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    await connect(api, admin, seerr)
    before = await search(api, alice, "matrix")
    assert {r["tmdb_id"]: r["availability"] for r in before["data"]} == {603: "not_requested",
                                                                          604: "not_requested"}
    made = await create(api, alice, 603, "The Matrix")

    # The cached page still has no mediaInfo for 603: the local request is what marks it.
    mine = await search(api, alice, "matrix")
    theirs = await search(api, bob, "matrix")
    assert searches(seerr) == ["matrix"]  # both answered from the cache
    assert {r["tmdb_id"]: (r["availability"], r["request_id"]) for r in mine["data"]} == {
        603: ("requested", made["id"]), 604: ("not_requested", None)}
    assert {r["tmdb_id"]: (r["availability"], r["request_id"]) for r in theirs["data"]} == {
        603: ("requested", None), 604: ("not_requested", None)}


async def test_a_declined_request_no_longer_marks_the_title(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    await search(api, admin, "amélie")
    made = await create(api, admin, 194, "Amélie")
    seerr.set_request_status(made["seerr_id"], REQUEST_DECLINED)
    assert await sync(api.app) == 1
    body = await search(api, admin, "amélie")  # the cached page: only the local request could mark it
    assert [(r["availability"], r["request_id"]) for r in body["data"]] == [("not_requested", None)]


async def test_search_cache_saves_repeat_calls(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    await connect(api, admin, seerr)
    first = await search(api, alice, "matrix")
    again = await search(api, alice, "matrix")
    assert again["data"] == first["data"] and again["meta"]["stale"] is False
    await search(api, admin, "matrix")  # another user's identical search is the same question to Seerr
    assert searches(seerr) == ["matrix"]

    await search(api, alice, "matrix", page=2)
    assert searches(seerr) == ["matrix", "matrix"]
    assert seerr.calls("GET", "/api/v1/search")[-1].arg("page") == "2"
    await search(api, alice, "amélie")
    assert searches(seerr) == ["matrix", "matrix", "amélie"]
    await search(api, alice, "matrix", page=2)
    await search(api, alice, "amélie")
    assert len(searches(seerr)) == 3


@pytest.mark.parametrize("overrides", [{"search_cache_ttl_s": 0}])
async def test_without_a_cache_every_search_goes_out(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr)
    for _ in range(3):
        body = await search(api, admin, "matrix")
        assert len(body["data"]) == 2 and body["meta"]["stale"] is False
    assert searches(seerr) == ["matrix"] * 3


@pytest.mark.parametrize("overrides", [{"search_cache_ttl_s": 0}])
@pytest.mark.parametrize("fault", ["refused", "500"])
async def test_seerr_down_serves_the_last_answer_as_stale(api: Api, seerr: Seerr, fault: str) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr)
    fresh = await search(api, admin, "matrix")
    assert fresh["meta"]["stale"] is False
    if fault == "refused":
        seerr.refuse()
    else:
        seerr.set_faults(fail_status=500)
    asked = len(seerr.requests)

    stale = await search(api, admin, "matrix")
    assert stale["meta"]["stale"] is True
    assert stale["data"] == fresh["data"]
    if fault == "500":
        assert len(seerr.requests) > asked  # Seerr was asked (and failed) before the stale copy was used

    error = (await search(api, admin, "amélie", expect=503 if fault == "refused" else 502))["error"]
    assert error["code"] == ("UNAVAILABLE" if fault == "refused" else "UPSTREAM_ERROR")
    assert "Seerr" in error["message"] and error["request_id"]


async def test_search_without_a_seerr_connection_is_unavailable(api: Api) -> None:
    admin = await api.setup_admin()
    error = (await search(api, admin, "matrix", expect=503))["error"]
    assert error["code"] == "UNAVAILABLE"


async def test_queries_reach_seerr_intact(api: Api, seerr: Seerr) -> None:
    # The stand-in refuses reserved characters left unencoded (as Seerr's validator does): a 200 with the
    # right title shows the query went out percent-encoded and came out the same.
    titles = {"amélie": "Amélie", "fast & furious": "Fast & Furious", "tom + jerry": "Tom + Jerry",
              "100% wolf": "100% Wolf", "rock 'n' roll": "Rock 'n' Roll High School",
              "the lord of the rings": "The Lord of the Rings", "what? #1": "What? #1 Hits",
              "a/b=c;d": "A/B=C;D", "東京": "東京物語"}
    for tmdb_id, title in enumerate(titles.values(), start=500):
        if title != "Amélie":
            seerr.add_movie(tmdb_id, title)
    admin = await api.setup_admin()
    await connect(api, admin, seerr)
    for query, title in titles.items():
        body = await search(api, admin, query)
        assert [r["title"] for r in body["data"]] == [title], query
        sent = seerr.calls("GET", "/api/v1/search")[-1]
        assert sent.arg("query") == query
        assert "+" not in sent.raw_query and " " not in sent.raw_query
    assert searches(seerr) == list(titles)


# -- creating requests ---------------------------------------------------------------------------------------


async def test_a_request_with_the_admin_key_is_approved(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    service_id = await connect(api, admin, seerr)
    made = await create(api, alice, 603, "The Matrix", year=1999, poster_path="/matrix.jpg")
    at_seerr = seerr.requests_made()
    assert len(at_seerr) == 1 and at_seerr[0]["status"] == REQUEST_APPROVED
    assert made["seerr_id"] == at_seerr[0]["id"]
    assert made["status"] == "approved"
    assert (made["media_type"], made["tmdb_id"], made["title"], made["year"]) == ("movie", 603, "The Matrix", 1999)
    assert made["poster_url"] == "https://image.tmdb.org/t/p/w300/matrix.jpg"
    post = seerr.calls("POST", "/api/v1/request")[0]
    assert post.json() == {"mediaType": "movie", "mediaId": 603}
    assert "x-api-user" not in post.headers and post.headers["x-api-key"] == SEERR_KEY
    assert await fetch(api, alice, made["id"]) == made
    async with api.app.state.parts.sessions() as session:
        row = await session.get(MediaRequest, int(made["id"]))
        assert row is not None and row.service_id == int(service_id) and row.seerr_id == made["seerr_id"]


async def test_a_request_as_a_plain_seerr_user_stays_pending(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    made = await create(api, alice, 603, "The Matrix")
    assert made["status"] == "pending"
    at_seerr = seerr.requests_made()[0]
    assert (at_seerr["status"], at_seerr["requestedBy"]["id"]) == (REQUEST_PENDING, 2)
    assert seerr.calls("POST", "/api/v1/request")[0].headers["x-api-user"] == "2"
    events = [e for e in api.app.state.parts.notifier.recent if e[0] == "request:updated"]
    assert events == [("request:updated", made, f"user:{made['user_id']}")]


async def test_tv_requests_carry_their_seasons(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    some = await create(api, admin, 1396, "Breaking Bad", media_type="tv", seasons=[1, 2])
    every = await create(api, admin, 21, "Star Quest: The Series", media_type="tv")
    assert (some["seasons"], every["seasons"]) == ([1, 2], None)
    posts = [c.json() for c in seerr.calls("POST", "/api/v1/request")]
    assert posts == [{"mediaType": "tv", "mediaId": 1396, "seasons": [1, 2]},
                     {"mediaType": "tv", "mediaId": 21, "seasons": "all"}]
    assert [[s["seasonNumber"] for s in r["seasons"]] for r in seerr.requests_made()] == [[1, 2], [1, 2, 3]]


async def test_a_second_open_request_for_a_title_conflicts(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    first = await create(api, alice, 603, "The Matrix")
    again = await create(api, alice, 603, "The Matrix", expect=409)
    assert again["error"]["code"] == "CONFLICT"
    assert len(seerr.calls("POST", "/api/v1/request")) == 1  # refused here, Seerr never asked

    # Seerr's own 409 (someone else asked for it) comes back as a conflict too, and nothing is kept.
    theirs = await create(api, bob, 603, "The Matrix", expect=409)
    assert theirs["error"]["code"] == "CONFLICT"
    assert await listed(api, bob) == []
    assert [r["id"] for r in await listed(api, admin)] == [first["id"]]
    assert len(seerr.requests_made()) == 1

    # Once declined, the title may be asked for again.
    seerr.set_request_status(first["seerr_id"], REQUEST_DECLINED)
    await sync(api.app)
    assert (await create(api, alice, 603, "The Matrix"))["status"] == "pending"


@pytest.mark.parametrize("fault", ["refused", "500"])
async def test_a_request_seerr_fails_leaves_nothing(api: Api, seerr: Seerr, fault: str) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    await connect(api, admin, seerr)
    if fault == "refused":
        seerr.refuse()
    else:
        seerr.set_faults(fail_status=500)
    body = await create(api, alice, 603, "The Matrix", expect=503 if fault == "refused" else 502)
    assert body["error"]["code"] == ("UNAVAILABLE" if fault == "refused" else "UPSTREAM_ERROR")
    assert await listed(api, alice) == [] and await local_rows(api.app) == 0
    if fault == "500":
        assert len(seerr.calls("POST", "/api/v1/request")) == 1  # a POST is not retried
        seerr.set_faults()
        assert seerr.requests_made() == []
        assert (await create(api, alice, 603, "The Matrix"))["status"] == "approved"


async def test_a_request_without_a_seerr_connection_is_unavailable(api: Api) -> None:
    admin = await api.setup_admin()
    body = await create(api, admin, 603, "The Matrix", expect=503)
    assert body["error"]["code"] == "UNAVAILABLE"
    assert await local_rows(api.app) == 0


@pytest.mark.parametrize("overrides", [{"requests_rate_limit": "2/hour", "rate_limits_enabled": True}])
async def test_requests_are_rate_limited_per_user(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    await create(api, alice, 603, "The Matrix")
    await create(api, alice, 604, "The Matrix Reloaded")
    r = await api.client.post(REQUESTS, headers=bearer(alice),
                              json={"media_type": "movie", "tmdb_id": 194, "title": "Amélie"})
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(r.headers["retry-after"]) <= 3600
    assert len(seerr.calls("POST", "/api/v1/request")) == 2
    assert len(await listed(api, alice)) == 2
    await create(api, bob, 194, "Amélie")  # bob's window is his own


async def test_request_input_is_validated(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr)
    for bad in ({"media_type": "book", "tmdb_id": 1, "title": "x"}, {"media_type": "movie", "tmdb_id": 0,
                                                                     "title": "x"},
                {"media_type": "movie", "tmdb_id": 603, "title": ""}):
        r = await api.client.post(REQUESTS, json=bad, headers=bearer(admin))
        assert r.status_code == 422, r.text
    assert seerr.calls("POST", "/api/v1/request") == []
    r = await api.client.post(REQUESTS, json={"media_type": "movie", "tmdb_id": 603, "title": "The Matrix"})
    assert r.status_code == 401


# -- following and withdrawing ---------------------------------------------------------------------------------


async def test_each_user_sees_their_own_requests_and_an_admin_all(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    a1 = await create(api, alice, 603, "The Matrix")
    a2 = await create(api, alice, 194, "Amélie")
    b1 = await create(api, bob, 11, "Star Quest One")

    assert [r["id"] for r in await listed(api, alice)] == [a2["id"], a1["id"]]  # newest first
    assert [r["id"] for r in await listed(api, bob)] == [b1["id"]]
    assert {r["id"] for r in await listed(api, admin)} == {a1["id"], a2["id"], b1["id"]}

    assert (await fetch(api, bob, a1["id"], expect=404))["code"] == "NOT_FOUND"
    assert (await fetch(api, alice, b1["id"], expect=404))["code"] == "NOT_FOUND"
    assert (await fetch(api, admin, b1["id"]))["title"] == "Star Quest One"
    assert (await fetch(api, alice, "nope", expect=404))["code"] == "NOT_FOUND"

    seerr.set_request_status(a1["seerr_id"], REQUEST_APPROVED)
    assert await sync(api.app) == 1
    assert [r["id"] for r in await listed(api, alice, status="pending")] == [a2["id"]]
    assert [r["id"] for r in await listed(api, alice, status="processing")] == [a1["id"]]
    assert await listed(api, alice, status="available") == []
    assert {r["id"] for r in await listed(api, admin, status="pending")} == {a2["id"], b1["id"]}
    r = await api.client.get(REQUESTS, params={"status": "lost"}, headers=bearer(alice))
    assert r.status_code == 422
    assert (await api.client.get(REQUESTS)).status_code == 401


async def test_withdrawing_a_pending_request(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    mine = await create(api, alice, 603, "The Matrix")
    kept = await create(api, alice, 194, "Amélie")

    r = await api.client.delete(f"{REQUESTS}/{mine['id']}", headers=bearer(bob))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert seerr.calls("DELETE", f"/api/v1/request/{mine['seerr_id']}") == []

    mark = len(api.app.state.parts.notifier.recent)
    r = await api.client.delete(f"{REQUESTS}/{mine['id']}", headers=bearer(alice))
    assert r.status_code == 204, r.text
    await fetch(api, alice, mine["id"], expect=404)
    assert seerr_request_ids(seerr) == [kept["seerr_id"]]
    assert len(seerr.calls("DELETE", f"/api/v1/request/{mine['seerr_id']}")) == 1
    assert events_since(api.app, mark) == [("request:updated", {"id": mine["id"], "status": "canceled"},
                                            f"user:{mine['user_id']}")]
    assert [r["id"] for r in await listed(api, alice)] == [kept["id"]]


async def test_only_pending_requests_can_be_withdrawn(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    await connect(api, admin, seerr)  # the admin key: approved at once
    made = await create(api, alice, 603, "The Matrix")
    assert made["status"] == "approved"
    r = await api.client.delete(f"{REQUESTS}/{made['id']}", headers=bearer(alice))
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
    assert seerr_request_ids(seerr) == [made["seerr_id"]]
    assert seerr.calls("DELETE", f"/api/v1/request/{made['seerr_id']}") == []
    assert (await fetch(api, alice, made["id"]))["status"] == "approved"


async def test_a_withdrawal_seerr_fails_changes_nothing(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    made = await create(api, admin, 603, "The Matrix")
    seerr.set_faults(fail_status=500)
    r = await api.client.delete(f"{REQUESTS}/{made['id']}", headers=bearer(admin))
    assert r.status_code == 502 and r.json()["error"]["code"] == "UPSTREAM_ERROR"
    assert (await fetch(api, admin, made["id"]))["status"] == "pending"
    seerr.set_faults()
    assert seerr_request_ids(seerr) == [made["seerr_id"]]


# -- the sync ----------------------------------------------------------------------------------------------------


async def test_sync_follows_seerr_and_announces_changes(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    to_process = await create(api, alice, 603, "The Matrix")
    to_decline = await create(api, alice, 604, "The Matrix Reloaded")
    to_approve = await create(api, alice, 194, "Amélie")
    untouched = await create(api, alice, 11, "Star Quest One")
    room = f"user:{to_process['user_id']}"

    seerr.set_request_status(to_process["seerr_id"], REQUEST_APPROVED)  # Seerr moves the media to processing
    seerr.set_request_status(to_decline["seerr_id"], REQUEST_DECLINED)
    seerr.set_request_status(to_approve["seerr_id"], REQUEST_APPROVED)
    seerr.set_media_status("movie", 194, MEDIA_PENDING)  # approved, but not yet sent on to be downloaded
    mark = len(api.app.state.parts.notifier.recent)
    assert await sync(api.app) == 3

    statuses = {r["id"]: r["status"] for r in await listed(api, alice)}
    assert statuses == {to_process["id"]: "processing", to_decline["id"]: "declined",
                        to_approve["id"]: "approved", untouched["id"]: "pending"}
    events = events_since(api.app, mark)
    assert sorted((p["id"], p["status"], r) for _, p, r in events) == sorted([
        (to_process["id"], "processing", room), (to_decline["id"], "declined", room),
        (to_approve["id"], "approved", room)])
    assert all(p["user_id"] == to_process["user_id"] and p["seerr_id"] for _, p, _ in events)

    # Nothing changed at Seerr: nothing changes here, nothing is announced.
    mark = len(api.app.state.parts.notifier.recent)
    assert await sync(api.app) == 0
    assert events_since(api.app, mark) == []

    seerr.set_media_status("movie", 603, MEDIA_AVAILABLE)
    assert await sync(api.app) == 1
    assert (await fetch(api, alice, to_process["id"]))["status"] == "available"

    # Settled requests (available, declined) are not asked about again; open ones are.
    seerr.reset_log()
    assert await sync(api.app) == 0
    assert {r.path for r in seerr.requests} == {f"/api/v1/request/{to_approve['seerr_id']}",
                                                f"/api/v1/request/{untouched['seerr_id']}"}


async def test_an_approved_request_becomes_processing_then_available(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr)
    made = await create(api, admin, 603, "The Matrix")
    assert made["status"] == "approved"
    assert await sync(api.app) == 1  # Seerr's admin approval moved the media on to processing
    assert (await fetch(api, admin, made["id"]))["status"] == "processing"
    seerr.set_media_status("movie", 603, MEDIA_AVAILABLE)
    assert await sync(api.app) == 1
    assert (await fetch(api, admin, made["id"]))["status"] == "available"


async def test_a_request_deleted_at_seerr_becomes_declined(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    made = await create(api, admin, 603, "The Matrix")
    async with httpx.AsyncClient(base_url=seerr.url, trust_env=False, timeout=10) as http:
        r = await http.delete(f"/api/v1/request/{made['seerr_id']}", headers={"X-Api-Key": SEERR_KEY})
        assert r.status_code == 204
    mark = len(api.app.state.parts.notifier.recent)
    assert await sync(api.app) == 1
    now = await fetch(api, admin, made["id"])
    assert now["status"] == "declined" and now["error"] == "removed at Seerr"
    assert [(p["id"], p["status"]) for _, p, _ in events_since(api.app, mark)] == [(made["id"], "declined")]
    seerr.reset_log()
    assert await sync(api.app) == 0
    assert seerr.requests == []  # settled: not asked again


@pytest.mark.parametrize("fault", ["refused", "500"])
async def test_sync_with_seerr_down_changes_nothing(api: Api, seerr: Seerr, fault: str) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr, PENDING_AT_SEERR)
    made = await create(api, admin, 603, "The Matrix")
    seerr.set_request_status(made["seerr_id"], REQUEST_APPROVED)
    if fault == "refused":
        seerr.refuse()
    else:
        seerr.set_faults(fail_status=500)
    mark = len(api.app.state.parts.notifier.recent)
    assert await sync(api.app) == 0
    now = await fetch(api, admin, made["id"])
    assert (now["status"], now["error"], now["synced_at"]) == ("pending", None, made["synced_at"])
    assert events_since(api.app, mark) == []
    if fault == "500":
        seerr.set_faults()
        assert await sync(api.app) == 1
        assert (await fetch(api, admin, made["id"]))["status"] == "processing"


# -- text from outside ---------------------------------------------------------------------------------------------

DIRTY = "Evil\x00 Title\u202egpj.exe\x1b[31m\x07"  # NUL, a bidi override, an escape sequence, a bell


async def test_control_characters_from_seerr_are_cleaned(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, seerr)
    seerr.add_movie(700, DIRTY, 2020, "First line\x00\nsecond\u202e line\x1b")
    seerr.add_movie(701, "Evil Two", 2021)
    found = (await search(api, admin, "evil"))["data"]
    assert (found[0]["title"], found[0]["overview"]) == ("Evil Titlegpj.exe[31m", "First line\nsecond line")
    # The client sends back the title it was shown; one that sends raw text gets it cleaned.
    shown = await create(api, admin, 700, found[0]["title"])
    raw = await create(api, admin, 701, "\u202e\x1b\x07 Evil\tTwo ")
    assert (shown["title"], raw["title"]) == ("Evil Titlegpj.exe[31m", "Evil Two")
    async with api.app.state.parts.sessions() as session:
        assert sorted(await session.scalars(select(MediaRequest.title))) == ["Evil Titlegpj.exe[31m", "Evil Two"]
    error = await create(api, admin, 702, "\u202e\x1b\x07", expect=422)
    assert error["error"]["code"] == "VALIDATION_ERROR"
