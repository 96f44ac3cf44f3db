"""The audit log (admin actions and sign-ins, who/what/when/where, admins only) and a user's sessions."""

from __future__ import annotations

from typing import Any

from tests.conftest import PASSWORD, Api, bearer


async def audit(api: Api, token: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.client.get("/api/v1/audit", params=params, headers=bearer(token))
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["data"]
    return rows


async def test_admin_actions_are_recorded_with_who_what_and_where(api: Api) -> None:
    admin = await api.setup_admin("root")
    r = await api.client.post("/api/v1/users", json={"username": "carol", "password": PASSWORD},
                              headers={**bearer(admin), "User-Agent": "admin-console/1"})
    carol = r.json()["data"]
    await api.client.patch(f"/api/v1/users/{carol['id']}", json={"role": "admin", "password": "another-password-1"},
                           headers=bearer(admin))
    await api.client.patch(f"/api/v1/users/{carol['id']}", json={"role": "user"}, headers=bearer(admin))
    await api.client.delete(f"/api/v1/users/{carol['id']}", headers=bearer(admin))
    rows = await audit(api, admin, action="user.")
    assert [r["action"] for r in rows] == ["user.delete", "user.update", "user.update", "user.create"]
    created = rows[-1]
    assert created["actor_name"] == "root" and created["target"] == f"user:{carol['id']}"
    assert created["ip"] == "127.0.0.1" and created["user_agent"] == "admin-console/1" and created["request_id"]
    assert created["details"] == {"username": "carol", "role": "user"}
    assert rows[2]["details"] == {"role": "admin", "password": "changed"}  # that it changed, never to what
    assert "another-password-1" not in str(rows)


async def test_the_log_filters_and_pages(api: Api) -> None:
    admin = await api.setup_admin("root")
    for n in range(3):
        await api.create_user(admin, f"user{n}")  # each: user.create + auth.login
    logins = await audit(api, admin, action="auth.login")
    assert len(logins) == 3 and {r["actor_name"] for r in logins} == {"user0", "user1", "user2"}
    first = await api.client.get("/api/v1/audit", params={"per_page": 2}, headers=bearer(admin))
    body = first.json()
    assert body["meta"]["total"] == 7 and body["meta"]["has_more"] is True and len(body["data"]) == 2
    assert int(body["data"][0]["id"]) > int(body["data"][1]["id"])  # newest first
    mine = await audit(api, admin, actor_id=logins[0]["actor_id"])
    assert {r["actor_id"] for r in mine} == {logins[0]["actor_id"]}
    bad = await api.client.get("/api/v1/audit", params={"actor_id": "x1"}, headers=bearer(admin))
    assert bad.status_code == 422


async def test_only_admins_read_the_log(api: Api) -> None:
    admin = await api.setup_admin()
    user = await api.create_user(admin, "dave")
    r = await api.client.get("/api/v1/audit", headers=bearer(user))
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert (await api.client.get("/api/v1/audit")).status_code == 401


async def test_api_keys_and_refresh_reuse_are_recorded(api: Api) -> None:
    admin = await api.setup_admin("root")
    key = (await api.client.post("/api/v1/auth/api-keys", json={"name": "backup script"},
                                 headers=bearer(admin))).json()["data"]
    await api.client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=bearer(admin))
    login = (await api.client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})).json()
    refresh = login["data"]["refresh_token"]
    await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})  # a replay
    actions = [r["action"] for r in await audit(api, admin)]
    assert actions[:4] == ["auth.refresh_reuse", "auth.login", "api_key.revoke", "api_key.create"]
    assert key["key"] not in str(await audit(api, admin))


async def test_sessions_are_listed_and_revoked_one_by_one(api: Api) -> None:
    await api.setup_admin("erin")
    pairs = []
    for agent in ("phone/1", "laptop/2"):
        r = await api.client.post("/api/v1/auth/login", json={"username": "erin", "password": PASSWORD},
                                  headers={"User-Agent": agent})
        pairs.append(r.json()["data"])
    rotated = (await api.client.post("/api/v1/auth/refresh", json={"refresh_token": pairs[0]["refresh_token"]},
                                     headers={"User-Agent": "phone/1"})).json()["data"]
    token = pairs[1]["access_token"]
    sessions = (await api.client.get("/api/v1/auth/sessions", headers=bearer(token))).json()["data"]
    assert len(sessions) == 3  # setup, phone (refreshed once: still one session), laptop
    phone = next(s for s in sessions if s["user_agent"] == "phone/1")
    assert phone["ip"] == "127.0.0.1" and phone["signed_in_at"] < phone["last_active_at"]
    r = await api.client.delete(f"/api/v1/auth/sessions/{phone['id']}", headers=bearer(token))
    assert r.status_code == 204
    again = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401  # the phone must sign in again
    left = (await api.client.get("/api/v1/auth/sessions", headers=bearer(token))).json()["data"]
    assert phone["id"] not in {s["id"] for s in left} and len(left) == 2
    r = await api.client.delete(f"/api/v1/auth/sessions/{phone['id']}", headers=bearer(token))
    assert r.status_code == 404


async def test_library_edits_and_purges_are_recorded(api: Api) -> None:
    admin = await api.setup_admin("root")
    await api.scan()
    first, second = (await api.all_media(admin))[:2]
    r = await api.client.patch(f"/api/v1/media/{first['id']}", json={"title": "Renamed"}, headers=bearer(admin))
    assert r.status_code == 200
    r = await api.client.delete(f"/api/v1/media/{second['id']}", params={"purge": "true"}, headers=bearer(admin))
    assert r.status_code == 204
    rows = await audit(api, admin, action="media.")
    assert [(r["action"], r["target"]) for r in rows] == [("media.purge", f"media:{second['id']}"),
                                                         ("media.update", f"media:{first['id']}")]
    assert rows[1]["details"] == {"title": "Renamed"} and rows[0]["details"]["title"] == second["title"]
