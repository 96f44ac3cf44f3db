"""The subscriptions API's refusals, each in the contract's envelope: private addresses, one video,
the same address twice, the per-user limit, other users' subscriptions, bad rules."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import Api, bearer
from tests.downloads.mediaserver import MediaServer
from tests.subscriptions.conftest import channel, subscribe


def error(r: Any, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code, body
    return str(body["message"])


async def test_a_private_address_is_refused_unless_allowed(api: Api, app: FastAPI, server: MediaServer) -> None:
    token = await api.setup_admin()
    app.state.parts.settings.downloads_allow_private_networks = False
    r = await api.client.post("/api/v1/subscriptions", json={"url": channel(server, "b", "a")}, headers=bearer(token))
    assert "private or local network" in str(r.json()["error"]["details"]) and r.status_code == 422
    assert server.requests == []


async def test_one_video_is_not_something_to_follow(api: Api, server: MediaServer) -> None:
    token = await api.setup_admin()
    r = await api.client.post("/api/v1/subscriptions", json={"url": server.url("/media/a.mp3")},
                              headers=bearer(token))
    assert "one video" in error(r, 400, "BAD_REQUEST")
    r = await api.client.get("/api/v1/subscriptions", headers=bearer(token))
    assert r.json()["meta"]["total"] == 0


async def test_the_same_address_twice_and_the_limit_are_conflicts(api: Api, app: FastAPI, server: MediaServer) -> None:
    token = await api.setup_admin()
    page = channel(server, "b", "a")
    await subscribe(api, token, page)
    r = await api.client.post("/api/v1/subscriptions", json={"url": page}, headers=bearer(token))
    assert "already follow" in error(r, 409, "CONFLICT")
    app.state.parts.settings.subscriptions_per_user = 1
    r = await api.client.post("/api/v1/subscriptions", json={"url": channel(server, "c", "d", path="/other")},
                              headers=bearer(token))
    assert "most allowed" in error(r, 409, "CONFLICT")


async def test_another_users_subscription_is_not_found(api: Api, server: MediaServer) -> None:
    admin = await api.setup_admin()
    sub = await subscribe(api, admin, channel(server, "b", "a"))
    await api.create_user(admin, "someone")
    other = await api.login("someone")
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/check")):
        r = await api.client.request(method, f"/api/v1/subscriptions/{sub['id']}{path}",
                                     json={} if method == "PATCH" else None, headers=bearer(other))
        error(r, 404, "NOT_FOUND")
    r = await api.client.get("/api/v1/subscriptions", headers=bearer(other))
    assert r.json()["data"] == []
    r = await api.client.get(f"/api/v1/subscriptions/{sub['id']}", headers=bearer(admin))
    assert r.status_code == 200


@pytest.mark.parametrize("body", [
    {"include": "a\x00b"}, {"interval_s": 59}, {"keep_last": 0}, {"mode": "film"}, {"sponsorblock": "skip"},
    {"name": "x" * 201}])
async def test_bad_rules_are_refused_field_by_field(api: Api, server: MediaServer, body: dict[str, Any]) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "b", "a"))
    r = await api.client.patch(f"/api/v1/subscriptions/{sub['id']}", json=body, headers=bearer(token))
    error(r, 422, "VALIDATION_ERROR")


async def test_a_rule_changes_and_a_subscription_stops(api: Api, app: FastAPI, server: MediaServer) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "b", "a"), mode="audio", audio_format="opus")
    app.state.parts.settings.subscriptions_min_interval_s = 3600
    r = await api.client.patch(f"/api/v1/subscriptions/{sub['id']}", json={"interval_s": 600}, headers=bearer(token))
    assert "at least 3600 seconds" in error(r, 422, "VALIDATION_ERROR")
    r = await api.client.patch(f"/api/v1/subscriptions/{sub['id']}",
                               json={"keep_last": 5, "include": "live|talk", "enabled": False, "interval_s": 7200,
                                     "mode": "video", "name": "Renamed ✓"}, headers=bearer(token))
    data = r.json()["data"]
    assert (data["keep_last"], data["include"], data["enabled"], data["interval_s"], data["mode"], data["name"],
            data["audio_format"]) == (5, "live|talk", False, 7200, "video", "Renamed ✓", None)
    r = await api.client.patch(f"/api/v1/subscriptions/{sub['id']}", json={"keep_last": None}, headers=bearer(token))
    assert r.json()["data"]["keep_last"] is None and r.json()["data"]["include"] == "live|talk"
    assert (await api.client.delete(f"/api/v1/subscriptions/{sub['id']}", headers=bearer(token))).status_code == 204
    r = await api.client.get(f"/api/v1/subscriptions/{sub['id']}", headers=bearer(token))
    error(r, 404, "NOT_FOUND")


async def test_a_feed_token_with_letters_beyond_ascii_is_not_found(api: Api, server: MediaServer) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "b", "a"))
    forged = sub["feed_url"][:-1] + "é"  # compared as text, such a signature raised a TypeError: a 500
    for url in (forged, f"{forged}/media/1"):
        error(await api.client.get(url), 404, "NOT_FOUND")
