"""Admin user management, roles, suspension taking effect at once."""

from __future__ import annotations

from tests.conftest import PASSWORD, Api, bearer


async def test_admin_manages_users_and_users_cannot(api: Api) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    listed = (await api.client.get("/api/v1/users", headers=bearer(admin))).json()
    assert [u["username"] for u in listed["data"]] == ["admin", "alice"]
    assert listed["meta"] == {"page": 1, "per_page": 50, "total": 2, "has_more": False}
    for method, path in (("GET", "/api/v1/users"), ("POST", "/api/v1/users"), ("GET", "/api/v1/users/1"),
                         ("PATCH", "/api/v1/users/1"), ("DELETE", "/api/v1/users/1"),
                         ("POST", "/api/v1/library/scans"), ("GET", "/api/v1/library/folders")):
        body = {"username": "x", "password": PASSWORD} if method in ("POST", "PATCH") else None
        r = await api.client.request(method, path, json=body, headers=bearer(alice))
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "FORBIDDEN"


async def test_suspension_takes_effect_at_once_and_reactivation_restores(api: Api) -> None:
    """Reactivation lets the user sign in again; the tokens from before the suspension stay dead."""
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    bob_id = (await api.client.get("/api/v1/auth/me", headers=bearer(bob))).json()["data"]["id"]
    r = await api.client.patch(f"/api/v1/users/{bob_id}", json={"status": "suspended"}, headers=bearer(admin))
    assert r.json()["data"]["status"] == "suspended"
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(bob))).status_code == 403
    login = await api.client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert login.status_code == 403
    await api.client.patch(f"/api/v1/users/{bob_id}", json={"status": "active"}, headers=bearer(admin))
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(bob))).status_code == 401
    fresh = await api.login("bob")
    assert (await api.client.get("/api/v1/auth/me", headers=bearer(fresh))).status_code == 200


async def test_the_last_admin_cannot_be_removed_or_demoted(api: Api) -> None:
    admin = await api.setup_admin()
    me = (await api.client.get("/api/v1/auth/me", headers=bearer(admin))).json()["data"]["id"]
    for method, body in (("PATCH", {"role": "user"}), ("PATCH", {"status": "suspended"}), ("DELETE", None)):
        r = await api.client.request(method, f"/api/v1/users/{me}", json=body, headers=bearer(admin))
        assert r.status_code == 409, (method, body)


async def test_password_reset_and_delete(api: Api) -> None:
    admin = await api.setup_admin()
    await api.create_user(admin, "carol")
    users = (await api.client.get("/api/v1/users", headers=bearer(admin))).json()["data"]
    carol = next(u["id"] for u in users if u["username"] == "carol")
    r = await api.client.patch(f"/api/v1/users/{carol}", json={"password": "a-brand-new-password"},
                               headers=bearer(admin))
    assert r.status_code == 200
    assert await api.login("carol", "a-brand-new-password")
    bad = await api.client.post("/api/v1/auth/login", json={"username": "carol", "password": PASSWORD})
    assert bad.status_code == 401
    assert (await api.client.delete(f"/api/v1/users/{carol}", headers=bearer(admin))).status_code == 204
    assert (await api.client.get(f"/api/v1/users/{carol}", headers=bearer(admin))).status_code == 404
    assert (await api.client.get("/api/v1/users/not-an-id", headers=bearer(admin))).status_code == 404
