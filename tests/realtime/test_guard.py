"""A socket never outlives the right to hold it: suspending or deleting its user, changing their password,
signing them out everywhere, revoking its API key, taking an admin's role away or its access token running
out ends it within seconds, in every server process, and the old credential cannot connect again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import httpx
import pytest
import socketio
from fastapi import FastAPI

from medianest.config import Settings
from medianest.realtime import guard
from tests.conftest import PASSWORD, Api, bearer
from tests.realtime.conftest import Instances, Socket, connect, refused, user_id

NEW_PASSWORD = "a-brand-new-password"


async def _suspend(api: Api, admin: str, bob: str, bob_id: str) -> None:
    r = await api.client.patch(f"/api/v1/users/{bob_id}", json={"status": "suspended"}, headers=bearer(admin))
    assert r.status_code == 200, r.text


async def _delete(api: Api, admin: str, bob: str, bob_id: str) -> None:
    assert (await api.client.delete(f"/api/v1/users/{bob_id}", headers=bearer(admin))).status_code == 204


async def _change_password(api: Api, admin: str, bob: str, bob_id: str) -> None:
    r = await api.client.patch(f"/api/v1/users/{bob_id}", json={"password": NEW_PASSWORD}, headers=bearer(admin))
    assert r.status_code == 200, r.text


async def _sign_out_everywhere(api: Api, admin: str, bob: str, bob_id: str) -> None:
    assert (await api.client.delete("/api/v1/auth/sessions", headers=bearer(bob))).status_code == 204


CHANGES = {"suspended": _suspend, "deleted": _delete, "password changed": _change_password,
           "signed out everywhere": _sign_out_everywhere}


@pytest.mark.parametrize("change", CHANGES)
async def test_a_socket_ends_when_its_user_loses_access(api: Api, live: str, change: str) -> None:
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    bob_id = await user_id(api.client, bob)
    mine, others = await connect(live, {"token": bob}), await connect(live, {"token": admin})
    try:
        assert (await mine.client.call("subscribe", {"room": "status"}))["ok"] is True
        await CHANGES[change](api, admin, bob, bob_id)
        await mine.wait_ended()
        # Only Bob's socket went: the admin's is still there and still answered.
        assert others.client.connected and not others.ended.is_set()
        assert (await others.client.call("subscribe", {"room": "status"}))["ok"] is True
    finally:
        await mine.close()
        await others.close()
    assert await refused(live, {"token": bob})


@pytest.fixture
def rare_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's periodic round once an hour (set before the app starts): only a wake-up can end a socket."""
    monkeypatch.setattr(guard, "SWEEP_INTERVAL_S", 3600.0)


async def test_a_change_made_in_this_process_ends_the_socket_without_waiting_for_a_round(
        rare_rounds: None, api: Api, live: str) -> None:
    """The process that suspends the user ends the socket at once: its commit wakes the guard."""
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    sock = await connect(live, {"token": bob})
    try:
        await _suspend(api, admin, bob, await user_id(api.client, bob))
        await sock.wait_ended()
    finally:
        await sock.close()


async def test_a_password_changed_by_another_process_ends_the_socket(api: Api, live: str, settings: Settings) -> None:
    """`medianest user passwd` runs in a process of its own, which holds no socket: the server notices."""
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    sock = await connect(live, {"token": bob})
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(settings.data_dir), "MEDIANEST_DATABASE_URL": settings.db_url,
           "MEDIANEST_LOG_LEVEL": "WARNING"}
    try:
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "medianest", "user", "passwd", "bob", "--password", NEW_PASSWORD, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await cli.communicate()
        assert cli.returncode == 0, out.decode(errors="replace")
        await sock.wait_ended()
    finally:
        await sock.close()
    assert await refused(live, {"token": bob})
    assert not await refused(live, {"token": await api.login("bob", NEW_PASSWORD)})


async def test_a_socket_ends_when_its_access_token_expires(api: Api, live: str, app: FastAPI) -> None:
    admin = await api.setup_admin()
    await api.create_user(admin, "bob")
    app.state.parts.auth.signer.access_ttl_s = 3
    sock: Socket | None = None
    for _ in range(5):  # a loaded machine may take longer than 3 s to connect: then try a fresher token
        token = await api.login("bob")
        with contextlib.suppress(socketio.exceptions.ConnectionError):
            sock = await connect(live, {"token": token})
            break
    assert sock is not None, "never connected with a fresh token"
    try:
        await sock.wait_ended()
    finally:
        await sock.close()
    assert await refused(live, {"token": token})


async def test_a_socket_ends_when_its_api_key_is_revoked(api: Api, live: str) -> None:
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    made = (await api.client.post("/api/v1/auth/api-keys", json={"name": "script"}, headers=bearer(bob))).json()
    sock = await connect(live, {"api_key": made["data"]["key"]})
    try:
        r = await api.client.delete(f"/api/v1/auth/api-keys/{made['data']['id']}", headers=bearer(bob))
        assert r.status_code == 204
        await sock.wait_ended()
    finally:
        await sock.close()
    assert await refused(live, {"api_key": made["data"]["key"]})


async def test_an_admin_socket_ends_when_the_admin_role_is_taken_away(api: Api, live: str) -> None:
    """Its rooms were granted as an admin's; it comes back with a user's rights."""
    admin = await api.setup_admin()
    carol = await api.create_user(admin, "carol", role="admin")
    sock = await connect(live, {"token": carol})
    try:
        r = await api.client.patch(f"/api/v1/users/{await user_id(api.client, carol)}", json={"role": "user"},
                                   headers=bearer(admin))
        assert r.status_code == 200, r.text
        await sock.wait_ended()
    finally:
        await sock.close()
    assert not await refused(live, {"token": carol})  # nothing else changed: her token still connects


# --- several server processes ------------------------------------------------------------------------

async def test_a_suspension_through_one_instance_ends_a_socket_held_by_another(two_instances: Instances) -> None:
    api, other = two_instances.api, two_instances.base
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    sock = await connect(other, {"token": bob})
    try:
        await _suspend(api, admin, bob, await user_id(api.client, bob))
        await sock.wait_ended()
    finally:
        await sock.close()
    assert await refused(other, {"token": bob})


async def test_a_password_change_through_one_instance_is_refused_by_another(two_instances: Instances) -> None:
    api, other = two_instances.api, two_instances.base
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    sock = await connect(other, {"token": bob})
    try:
        await _change_password(api, admin, bob, await user_id(api.client, bob))
        await sock.wait_ended()
    finally:
        await sock.close()
    assert await refused(other, {"token": bob})
    async with httpx.AsyncClient(base_url=other) as http:
        r = await http.get("/api/v1/auth/me", headers=bearer(bob))
        assert r.status_code == 401, r.text
        r = await http.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
        assert r.status_code == 401
