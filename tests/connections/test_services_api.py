"""/api/v1/services (connections, their test), seeding them from MEDIANEST_* settings, /api/v1/plex/libraries and
the services listed by /health: the real app against the real stand-ins on 127.0.0.1 and a real database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import make_url

from medianest.app import create_app
from medianest.config import Settings
from medianest.connections import status
from medianest.connections.models import ServiceConfig
from tests.conftest import Api, bearer
from tests.integrations.kuma import UP, UptimeKuma
from tests.integrations.opensubtitles import OpenSubtitles
from tests.integrations.plexserver import PlexServer
from tests.integrations.seerr import Seerr
from tests.integrations.standin import StandIn

# Distinctive values, so finding one anywhere is certainly a leak.
SEERR_KEY = "seerr-KEY-4c1d9e7a0b"
PLEX_TOKEN = "plex-TOKEN-8b2f61c0aa"
OS_KEY = "os-KEY-d93a0e55f1"
OS_USER = "nestuser"
OS_PASSWORD = "os-PASS-71fe2b9c3d"
KINDS = ["seerr", "plex", "uptime_kuma", "opensubtitles"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No backoff waits; two attempts per call; a generous timeout (the slow tests start their own app); no
    queue consumer, so no periodic check asks the stand-ins behind a test's back (tests run `check_due`)."""
    return settings.model_copy(update={"integrations_retry_wait_s": 0.0, "integrations_attempts": 2,
                                       "integrations_timeout_s": 5.0, "queue_consumer": "off"})


@contextlib.asynccontextmanager
async def started(settings: Settings, client_hooks: list[Any] | None = None) -> AsyncIterator[Api]:
    """The app with its lifespan and a client bound to it, as tests/conftest.py makes them."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        hooks = {"response": client_hooks} if client_hooks else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks) as c:
            yield Api(c, app)


@dataclass
class Stands:
    seerr: Seerr
    plex: PlexServer
    kuma: UptimeKuma
    osub: OpenSubtitles

    def of(self, kind: str) -> StandIn:
        standins: dict[str, StandIn] = {"seerr": self.seerr, "plex": self.plex, "uptime_kuma": self.kuma,
                                        "opensubtitles": self.osub}
        return standins[kind]

    def body(self, kind: str, name: str | None = None) -> dict[str, Any]:
        """The create body of a connection to the stand-in of `kind`, with the credentials it accepts."""
        bodies: dict[str, dict[str, Any]] = {
            "seerr": {"url": self.seerr.url, "secret": SEERR_KEY},
            "plex": {"url": self.plex.url, "secret": PLEX_TOKEN},
            "uptime_kuma": {"url": self.kuma.url, "options": {"slug": "home"}},
            "opensubtitles": {"url": self.osub.url, "secret": OS_KEY,
                              "options": {"username": OS_USER, "password": OS_PASSWORD}},
        }
        return {"kind": kind, "name": name or f"my {kind}", **bodies[kind]}


@pytest.fixture
def stands() -> Iterator[Stands]:
    with (Seerr(api_key=SEERR_KEY) as seerr, PlexServer(token=PLEX_TOKEN) as plex, UptimeKuma() as kuma,
          OpenSubtitles(api_key=OS_KEY, username=OS_USER, password=OS_PASSWORD) as osub):
        plex.set_sections([("1", "Films", "movie", ["/srv/films", "/mnt/more-films"]),
                           ("7", "Podcasts", "artist", ["/srv/podcasts"])])
        kuma.add_page("home", "Home")
        kuma.add_monitor("home", 1, "NAS")
        kuma.add_monitor("home", 2, "Router", group="Network")
        kuma.beat(1, UP, 12)
        kuma.beat(2, UP, 3)
        yield Stands(seerr, plex, kuma, osub)


async def add(api: Api, token: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.client.post("/api/v1/services", json=body, headers=bearer(token))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()["data"]
    return created


async def run_test(api: Api, token: str, service_id: str) -> dict[str, Any]:
    r = await api.client.post(f"/api/v1/services/{service_id}/test", headers=bearer(token))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["data"]
    return result


async def services(api: Api, token: str) -> dict[str, dict[str, Any]]:
    r = await api.client.get("/api/v1/services", params={"per_page": 100}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return {s["name"]: s for s in r.json()["data"]}


async def audit(api: Api, token: str, action: str = "service.") -> list[dict[str, Any]]:
    r = await api.client.get("/api/v1/audit", params={"action": action, "per_page": 100}, headers=bearer(token))
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["data"]
    return rows


def assert_error(r: httpx.Response, status_code: int, code: str) -> dict[str, Any]:
    assert r.status_code == status_code, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code and error["request_id"]
    return error


# -- CRUD ---------------------------------------------------------------------------------------------------------


async def test_admin_manages_a_connection_of_each_kind(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    for kind in KINDS:
        await crud_one_kind(api, admin, stands, kind)


async def crud_one_kind(api: Api, admin: str, stands: Stands, kind: str) -> None:
    h = bearer(admin)
    body = stands.body(kind)
    seen = len(await audit(api, admin))
    created = await add(api, admin, body)
    assert "secret" not in created and "password" not in created, kind
    assert created["kind"] == kind and created["name"] == f"my {kind}" and created["url"] == stands.of(kind).url
    assert created["enabled"] is True and created["seeded"] is False and created["status"] == "unknown", kind
    assert created["has_secret"] is (kind != "uptime_kuma"), kind
    if kind == "opensubtitles":
        assert created["options"] == {"username": OS_USER} and created["secret_options"] == ["password"]
    else:
        assert created["options"] == body.get("options", {}) and created["secret_options"] == [], kind
    sid = created["id"]

    got = (await api.client.get(f"/api/v1/services/{sid}", headers=h)).json()["data"]
    assert got == created, kind
    listed = await api.client.get("/api/v1/services", headers=h)
    assert listed.status_code == 200 and listed.json()["meta"]["total"] == 1, kind
    assert listed.json()["data"] == [created], kind

    r = await api.client.patch(f"/api/v1/services/{sid}", json={"name": "renamed", "url": stands.of(kind).url + "/",
                                                                "enabled": False}, headers=h)
    assert r.status_code == 200, r.text
    patched = r.json()["data"]
    assert patched["name"] == "renamed" and patched["enabled"] is False, kind
    assert patched["url"] == stands.of(kind).url, kind  # the trailing slash is dropped
    assert patched["has_secret"] is created["has_secret"] and patched["options"] == created["options"], kind

    r = await api.client.patch(f"/api/v1/services/{sid}", json={"secret": "another-one"}, headers=h)
    assert r.json()["data"]["has_secret"] is True, kind
    r = await api.client.patch(f"/api/v1/services/{sid}", json={"secret": ""}, headers=h)
    assert r.status_code == 200 and r.json()["data"]["has_secret"] is False, kind
    assert r.json()["data"]["secret_options"] == created["secret_options"], kind  # the password is kept
    got = (await api.client.get(f"/api/v1/services/{sid}", headers=h)).json()["data"]
    assert got["has_secret"] is False and got["name"] == "renamed", kind

    assert (await api.client.delete(f"/api/v1/services/{sid}", headers=h)).status_code == 204
    assert_error(await api.client.get(f"/api/v1/services/{sid}", headers=h), 404, "NOT_FOUND")
    assert (await api.client.get("/api/v1/services", headers=h)).json()["data"] == [], kind
    events = (await audit(api, admin))[:-seen or None]  # newest first: this kind's
    assert {e["target"] for e in events} == {f"service:{sid}"}, kind
    assert [e["action"] for e in events] == ["service.delete", "service.update", "service.update", "service.update",
                                             "service.create"]


async def test_removing_the_only_secret_clears_the_stored_blob(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    sid = (await add(api, admin, stands.body("seerr")))["id"]
    await api.client.patch(f"/api/v1/services/{sid}", json={"secret": ""}, headers=bearer(admin))
    async with api.app.state.parts.sessions() as session:
        row = await session.get(ServiceConfig, int(sid))
        assert row is not None and row.secret is None
    result = await run_test(api, admin, sid)  # no key any more: Seerr refuses the search
    assert result["status"] == "degraded" and "credentials" in result["detail"]


async def test_the_opensubtitles_password_is_write_only(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    h = bearer(admin)
    sid = (await add(api, admin, stands.body("opensubtitles")))["id"]
    # Options without the password keep the stored one (the admin cannot see it to send it back).
    r = await api.client.patch(f"/api/v1/services/{sid}", json={"options": {"username": OS_USER}}, headers=h)
    assert r.json()["data"]["options"] == {"username": OS_USER} and r.json()["data"]["secret_options"] == ["password"]
    assert (await run_test(api, admin, sid))["detail"] == f"OpenSubtitles reachable, signed in as {OS_USER}"
    r = await api.client.patch(f"/api/v1/services/{sid}", json={"options": {"username": OS_USER,
                                                                            "password": "not-it"}}, headers=h)
    assert r.json()["data"]["options"] == {"username": OS_USER}
    result = await run_test(api, admin, sid)
    assert result["status"] == "degraded" and "credentials" in result["detail"]
    assert "not-it" not in str(await audit(api, admin))
    listed = (await api.client.get("/api/v1/services", headers=h)).json()["data"]
    assert "password" not in listed[0]["options"] and "not-it" not in str(listed)


async def test_secrets_never_leave_the_server(settings: Settings, stands: Stands, caplog: pytest.LogCaptureFixture,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        bodies.append(response.text)

    new_seerr_key = "seerr-NEWKEY-55aa01"  # one the stand-in refuses: the failure path sees it too
    secrets = [SEERR_KEY, PLEX_TOKEN, OS_KEY, OS_PASSWORD, new_seerr_key]
    # The app is made here, once capfd holds stderr, so the structlog lines it prints are captured.
    async with started(settings.model_copy(update={"log_level": "DEBUG"}), [keep]) as api:
        admin = await api.setup_admin()
        h = bearer(admin)
        ids = {kind: (await add(api, admin, stands.body(kind)))["id"] for kind in KINDS}
        await api.client.get("/api/v1/services", headers=h)
        for sid in ids.values():
            await api.client.get(f"/api/v1/services/{sid}", headers=h)
            assert (await run_test(api, admin, sid))["status"] == "up"
        await api.client.patch(f"/api/v1/services/{ids['seerr']}", json={"secret": new_seerr_key}, headers=h)
        assert (await run_test(api, admin, ids["seerr"]))["status"] == "degraded"
        await api.client.patch(f"/api/v1/services/{ids['opensubtitles']}",
                               json={"options": {"username": OS_USER, "password": OS_PASSWORD}}, headers=h)
        await api.client.patch(f"/api/v1/services/{ids['plex']}", json={"secret": ""}, headers=h)
        await api.client.get("/api/v1/services/status", headers=h)
        parts = api.app.state.parts
        await status.check_due(parts.sessions, parts.integrations, parts.notifier, 60)
        await api.client.get("/health")
        events = await audit(api, admin)
        async with api.app.state.parts.sessions() as session:
            rows = {name: (secret, options) for name, secret, options in (await session.execute(
                select(ServiceConfig.name, ServiceConfig.secret, ServiceConfig.options))).all()}
        db_files = b""
        if settings.is_sqlite:
            db = Path(str(make_url(settings.db_url).database))
            db_files = b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())
            assert db_files

    assert len(bodies) > 15 and any('"has_secret":true' in b for b in bodies)
    assert {e["action"] for e in events} == {"service.create", "service.update"}
    assert any(e["details"].get("secret") == "changed" for e in events)
    assert any(e["details"].get("secret") == "removed" for e in events)
    captured = capfd.readouterr()
    assert "medianest ready" in captured.err  # the app's log lines were captured, so their absence means something
    assert "HTTP Request" in caplog.text  # so were httpx's calls to the stand-ins
    assert isinstance(rows["my seerr"][0], bytes) and isinstance(rows["my opensubtitles"][0], bytes)
    for secret in secrets:
        for body in bodies:
            assert secret not in body
        assert secret not in str(events)
        assert secret not in caplog.text and secret not in captured.out and secret not in captured.err
        for blob, options in rows.values():
            assert secret.encode() not in (blob or b"") and secret not in str(options)
        assert secret.encode() not in db_files


# -- validation and access ----------------------------------------------------------------------------------------


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"kind": "ftp"}, "body.kind"),
    ({"url": "ftp://127.0.0.1/x"}, "body.url"),
    ({"url": "file:///etc/passwd"}, "body.url"),
    ({"url": "javascript:alert(1)"}, "body.url"),
    ({"url": "http://user:pw@127.0.0.1:8080"}, "body.url"),
    ({"url": "http://127.0.0.1:8080/?token=abc"}, "body.url"),
    ({"url": "http://127.0.0.1:8080/#frag"}, "body.url"),
    ({"options": {"slug": "x" * 5000}}, "body.options"),
    ({"name": ""}, "body.name"),
    ({"secret": 12345}, "body.secret"),
]


async def test_bad_connections_are_refused_with_details(api: Api) -> None:
    admin = await api.setup_admin()
    for change, field in BAD_BODIES:
        body = {"kind": "uptime_kuma", "name": "Kuma", "url": "http://127.0.0.1:3001", "options": {"slug": "a"},
                **change}
        error = assert_error(await api.client.post("/api/v1/services", json=body, headers=bearer(admin)),
                             422, "VALIDATION_ERROR")
        assert field in [f["field"] for f in error["details"]["fields"]], (change, error)
    assert (await api.client.get("/api/v1/services", headers=bearer(admin))).json()["meta"]["total"] == 0


async def test_patch_is_validated_too(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    sid = (await add(api, admin, stands.body("seerr")))["id"]
    for patch, field in (({"url": "http://a:b@127.0.0.1"}, "body.url"), ({"name": ""}, "body.name"),
                         ({"options": {"k": "v" * 5000}}, "body.options")):
        r = await api.client.patch(f"/api/v1/services/{sid}", json=patch, headers=bearer(admin))
        assert field in [f["field"] for f in assert_error(r, 422, "VALIDATION_ERROR")["details"]["fields"]]
    got = (await api.client.get(f"/api/v1/services/{sid}", headers=bearer(admin))).json()["data"]
    assert got["url"] == stands.seerr.url and got["name"] == "my seerr"


async def test_names_are_unique(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    h = bearer(admin)
    await add(api, admin, stands.body("seerr", "Media"))
    other = await add(api, admin, stands.body("plex", "Plex"))
    r = await api.client.post("/api/v1/services", json=stands.body("uptime_kuma", "Media"), headers=h)
    assert "Media" in assert_error(r, 409, "CONFLICT")["message"]
    r = await api.client.patch(f"/api/v1/services/{other['id']}", json={"name": "Media"}, headers=h)
    assert_error(r, 409, "CONFLICT")
    assert sorted(await services(api, admin)) == ["Media", "Plex"]
    # the failed attempts left the session usable and nothing half-written
    assert (await api.client.patch(f"/api/v1/services/{other['id']}", json={"name": "Plex 2"},
                                   headers=h)).status_code == 200


async def test_unknown_ids_are_not_found(api: Api) -> None:
    admin = await api.setup_admin()
    h = bearer(admin)
    for service_id in ("999999", "abc", "1.5", "-1", "99999999999999999999"):
        path = f"/api/v1/services/{service_id}"
        assert_error(await api.client.get(path, headers=h), 404, "NOT_FOUND")
        assert_error(await api.client.patch(path, json={"enabled": False}, headers=h), 404, "NOT_FOUND")
        assert_error(await api.client.delete(path, headers=h), 404, "NOT_FOUND")
        assert_error(await api.client.post(f"{path}/test", headers=h), 404, "NOT_FOUND")


async def test_only_admins_manage_connections(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    user = await api.create_user(admin, "plain")
    sid = (await add(api, admin, stands.body("seerr")))["id"]
    calls = [("GET", "/api/v1/services", None), ("POST", "/api/v1/services", stands.body("plex")),
             ("GET", f"/api/v1/services/{sid}", None), ("PATCH", f"/api/v1/services/{sid}", {"enabled": False}),
             ("DELETE", f"/api/v1/services/{sid}", None), ("POST", f"/api/v1/services/{sid}/test", None)]
    for method, path, body in calls:
        assert_error(await api.client.request(method, path, json=body, headers=bearer(user)), 403, "FORBIDDEN")
        assert_error(await api.client.request(method, path, json=body), 401, "UNAUTHORIZED")
    assert list(await services(api, admin)) == ["my seerr"]
    assert stands.seerr.requests == []  # no test reached the service
    assert (await api.client.get("/api/v1/services/status", headers=bearer(user))).status_code == 200
    assert_error(await api.client.get("/api/v1/services/status"), 401, "UNAUTHORIZED")


# -- the test button -----------------------------------------------------------------------------------------------


async def test_the_test_reports_what_each_service_answered(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    results = {}
    for kind in KINDS:
        sid = (await add(api, admin, stands.body(kind)))["id"]
        results[kind] = await run_test(api, admin, sid)
    for result in results.values():
        assert result["ok"] is True and result["status"] == "up" and result["response_ms"] >= 0
    assert results["seerr"]["detail"] == "Seerr 3.2.0"
    assert results["plex"]["detail"] == "Plex Media Server 1.41.3.9314-a0bfb8370, 2 libraries: Films, Podcasts"
    assert results["uptime_kuma"]["detail"] == "status page 'home': 2 monitors"
    assert results["opensubtitles"]["detail"] == f"OpenSubtitles reachable, signed in as {OS_USER}"
    # the test used the stored credentials: the key-only Seerr search and the OpenSubtitles sign-in went out
    assert stands.seerr.calls("GET", "/api/v1/search")[0].headers["x-api-key"] == SEERR_KEY
    assert stands.plex.calls("GET", "/library/sections")[0].headers["x-plex-token"] == PLEX_TOKEN
    assert len(stands.osub.calls("POST", "/api/v1/login")) == 1
    # the outcome is not recorded on the board
    assert {s["status"] for s in (await services(api, admin)).values()} == {"unknown"}


async def test_a_wrong_key_is_degraded_and_says_credentials(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    for kind in ("seerr", "plex", "opensubtitles"):
        sid = (await add(api, admin, {**stands.body(kind), "secret": "wrong-key"}))["id"]
        result = await run_test(api, admin, sid)
        assert result["ok"] is False and result["status"] == "degraded", (kind, result)
        assert "credentials" in result["detail"] and "wrong-key" not in result["detail"], (kind, result)
        assert len(stands.of(kind).requests) >= 1, kind  # it did ask


async def test_a_wrong_opensubtitles_password_is_degraded(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    body = stands.body("opensubtitles")
    sid = (await add(api, admin, {**body, "options": {"username": OS_USER, "password": "bad"}}))["id"]
    result = await run_test(api, admin, sid)
    assert result["status"] == "degraded" and "credentials" in result["detail"]
    assert len(stands.osub.calls("POST", "/api/v1/login")) == 1  # a refused sign-in is not retried


async def test_a_broken_service_is_down(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    ids = {kind: (await add(api, admin, stands.body(kind)))["id"] for kind in KINDS}
    for fault, expected in (("500", "answered 500"), ("garbage", "not JSON"), ("refuse", "unreachable")):
        for kind in KINDS:
            standin = stands.of(kind)
            standin.reset_log()
            if fault == "500":
                standin.set_faults(fail_status=500)
            elif fault == "garbage":
                standin.set_faults(garbage=True)
            else:
                standin.refuse()
        for kind, sid in ids.items():
            result = await run_test(api, admin, sid)
            assert result["ok"] is False and result["status"] == "down", (fault, kind, result)
            assert expected in result["detail"], (fault, kind, result)
            assert result["response_ms"] is None
        if fault == "500":  # a 500 is asked again (2 attempts in these settings) before it counts
            assert len(stands.seerr.requests) == 2 and len(stands.plex.requests) == 2


async def test_a_slow_service_is_down_did_not_answer_in_time(settings: Settings, stands: Stands) -> None:
    quick = settings.model_copy(update={"integrations_timeout_s": 0.5, "integrations_attempts": 1})
    async with started(quick) as api:
        admin = await api.setup_admin()
        ids = {kind: (await add(api, admin, stands.body(kind)))["id"] for kind in KINDS}
        for kind in KINDS:
            stands.of(kind).set_faults(delay_s=10)
        for kind, sid in ids.items():
            result = await run_test(api, admin, sid)
            assert result["status"] == "down" and "did not answer in time" in result["detail"], (kind, result)
            # The stand-in logs a request when its thread reads it: on a loaded machine that can come after
            # the client's 0.5 s are up, so wait for it (a deadline, not a timing check).
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if stands.of(kind).requests:
                    break
                await asyncio.sleep(0.05)
            assert len(stands.of(kind).requests) == 1  # it was asked, once (attempts 1), and gave up waiting


async def test_the_test_asks_even_when_the_breaker_is_open(settings: Settings, stands: Stands) -> None:
    """The periodic checks open the breaker; the admin's test asks the service anyway (something changed)."""
    one = settings.model_copy(update={"breaker_threshold": 1, "breaker_cooldown_s": 3600})
    async with started(one) as api:
        admin = await api.setup_admin()
        sid = (await add(api, admin, stands.body("seerr")))["id"]
        stands.seerr.set_faults(fail_status=503)
        app = api.app
        await status.check_due(app.state.parts.sessions, app.state.parts.integrations, app.state.parts.notifier, 0)
        assert app.state.parts.integrations.breakers.get(sid).state == "open"
        stands.seerr.set_faults()
        asked = len(stands.seerr.requests)
        result = await run_test(api, admin, sid)
        assert result["status"] == "up" and len(stands.seerr.requests) > asked


# -- seeding from the environment ------------------------------------------------------------------------------


def env(settings: Settings, stands: Stands, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "plex_url": stands.plex.url, "plex_token": SecretStr(PLEX_TOKEN),
        "seerr_url": stands.seerr.url, "seerr_api_key": SecretStr(SEERR_KEY),
        "uptime_kuma_url": stands.kuma.url, "uptime_kuma_slug": "home",
        "opensubtitles_api_key": SecretStr(OS_KEY), "opensubtitles_url": stands.osub.url,
        "opensubtitles_username": OS_USER, "opensubtitles_password": SecretStr(OS_PASSWORD),
    }
    return settings.model_copy(update={**values, **changes})


async def test_settings_seed_connections_and_restarts_keep_them_current(settings: Settings, stands: Stands) -> None:
    async with started(env(settings, stands)) as api:
        admin = await api.setup_admin()
        seeded = await services(api, admin)
        assert sorted(seeded) == ["OpenSubtitles", "Plex", "Seerr", "Uptime Kuma"]
        assert all(s["seeded"] is True for s in seeded.values())
        assert {s["name"]: s["kind"] for s in seeded.values()} == {
            "OpenSubtitles": "opensubtitles", "Plex": "plex", "Seerr": "seerr", "Uptime Kuma": "uptime_kuma"}
        assert seeded["Uptime Kuma"]["options"] == {"slug": "home"}
        assert seeded["OpenSubtitles"]["options"] == {"username": OS_USER}
        assert seeded["OpenSubtitles"]["secret_options"] == ["password"]
        for s in seeded.values():  # the seeded credentials work
            assert (await run_test(api, admin, s["id"]))["status"] == "up", s
        created = await audit(api, admin)
        assert sorted(e["details"]["name"] for e in created) == sorted(seeded)
        assert {(e["action"], e["actor_id"]) for e in created} == {("service.create", None)}

    async with started(env(settings, stands)) as api:  # the same values: nothing to write
        admin = await api.login("admin")
        assert await services(api, admin) == seeded
        assert await audit(api, admin) == created

    with Seerr(api_key="seerr-other-key") as seerr2:
        stands.kuma.add_page("lab", "Lab")
        stands.kuma.add_monitor("lab", 9, "Printer")
        changed = env(settings, stands, seerr_url=seerr2.url, seerr_api_key=SecretStr("seerr-other-key"),
                      uptime_kuma_slug="lab", opensubtitles_username="someone")
        async with started(changed) as api:
            admin = await api.login("admin")
            now = await services(api, admin)
            assert now["Seerr"]["url"] == seerr2.url and now["Seerr"]["id"] == seeded["Seerr"]["id"]
            assert now["Uptime Kuma"]["options"] == {"slug": "lab"}
            assert now["OpenSubtitles"]["options"] == {"username": "someone"}
            assert now["Plex"] == seeded["Plex"]
            assert (await run_test(api, admin, now["Seerr"]["id"]))["status"] == "up"  # with the new key
            assert (await run_test(api, admin, now["Uptime Kuma"]["id"]))["detail"] == "status page 'lab': 1 monitors"
            updates = [e for e in await audit(api, admin) if e["action"] == "service.update"]
            assert sorted(e["target"] for e in updates) == sorted(
                f"service:{seeded[n]['id']}" for n in ("Seerr", "Uptime Kuma", "OpenSubtitles"))
            assert all(e["actor_id"] is None for e in updates)
            assert "seerr-other-key" not in str(updates)

        async with started(changed) as api:  # restarted with those values again: no new event
            admin = await api.login("admin")
            assert len(await audit(api, admin)) == len(created) + 3


async def test_a_dropped_opensubtitles_login_is_forgotten_once(settings: Settings, stands: Stands) -> None:
    """Unsetting the OpenSubtitles username and password updates the seeded connection once; later starts with
    the same values change nothing."""
    async with started(env(settings, stands)) as api:
        admin = await api.setup_admin()
        before = len(await audit(api, admin))
    key_only = env(settings, stands, opensubtitles_username=None, opensubtitles_password=None)
    async with started(key_only) as api:
        admin = await api.login("admin")
        osub = (await services(api, admin))["OpenSubtitles"]
        assert osub["options"] == {} and osub["has_secret"] is True
        assert len(await audit(api, admin)) == before + 1
        assert (await run_test(api, admin, osub["id"]))["detail"] == "OpenSubtitles reachable"
    async with started(key_only) as api:  # the same values again: nothing to write
        admin = await api.login("admin")
        assert len(await audit(api, admin)) == before + 1
        osub = (await services(api, admin))["OpenSubtitles"]
        assert osub["secret_options"] == []  # the old password went with the username


async def test_a_hand_made_connection_with_a_seeded_name_is_left_alone(settings: Settings, stands: Stands) -> None:
    async with started(settings) as api:
        admin = await api.setup_admin()
        mine = await add(api, admin, {**stands.body("plex", "Plex"), "options": {"path_map": {"/a": "/b"}}})
    with PlexServer(token="other-token") as plex2:
        async with started(settings.model_copy(update={"plex_url": plex2.url,
                                                       "plex_token": SecretStr("other-token")})) as api:
            admin = await api.login("admin")
            assert await services(api, admin) == {"Plex": mine}
            assert [e["action"] for e in await audit(api, admin)] == ["service.create"]
            assert (await run_test(api, admin, mine["id"]))["status"] == "up"  # still the first server, token
        assert plex2.requests == []


# -- /api/v1/plex/libraries --------------------------------------------------------------------------------------


async def test_plex_libraries_lists_the_sections(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    user = await api.create_user(admin, "viewer")
    sid = (await add(api, admin, stands.body("plex")))["id"]
    r = await api.client.get("/api/v1/plex/libraries", headers=bearer(user))
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [
        {"key": "1", "title": "Films", "type": "movie", "paths": ["/srv/films", "/mnt/more-films"], "service_id": sid},
        {"key": "7", "title": "Podcasts", "type": "artist", "paths": ["/srv/podcasts"], "service_id": sid},
    ]
    assert stands.plex.calls("GET", "/library/sections")[-1].headers["x-plex-token"] == PLEX_TOKEN
    assert_error(await api.client.get("/api/v1/plex/libraries"), 401, "UNAUTHORIZED")


async def test_plex_libraries_is_unavailable_without_a_plex_connection(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    await add(api, admin, stands.body("seerr"))
    error = assert_error(await api.client.get("/api/v1/plex/libraries", headers=bearer(admin)), 503, "UNAVAILABLE")
    assert "Plex" in error["message"]
    sid = (await add(api, admin, stands.body("plex")))["id"]
    await api.client.patch(f"/api/v1/services/{sid}", json={"enabled": False}, headers=bearer(admin))
    assert_error(await api.client.get("/api/v1/plex/libraries", headers=bearer(admin)), 503, "UNAVAILABLE")
    assert stands.plex.requests == []


async def test_plex_libraries_when_plex_fails(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    sid = (await add(api, admin, {**stands.body("plex"), "secret": "wrong"}))["id"]
    r = await api.client.get("/api/v1/plex/libraries", headers=bearer(admin))
    error = assert_error(r, 502, "UPSTREAM_ERROR")
    assert error["message"].startswith("Plex (my plex)") and "credentials" in error["message"]
    await api.client.patch(f"/api/v1/services/{sid}", json={"secret": PLEX_TOKEN}, headers=bearer(admin))
    for fault, status_code, code in (("500", 502, "UPSTREAM_ERROR"), ("garbage", 502, "UPSTREAM_ERROR"),
                                     ("refuse", 503, "UNAVAILABLE")):
        if fault == "500":
            stands.plex.set_faults(fail_status=500)
        elif fault == "garbage":
            stands.plex.set_faults(garbage=True)
        else:
            stands.plex.refuse()
        r = await api.client.get("/api/v1/plex/libraries", headers=bearer(admin))
        assert assert_error(r, status_code, code)["message"].startswith("Plex (my plex)"), fault


async def test_plex_libraries_times_out(settings: Settings, stands: Stands) -> None:
    async with started(settings.model_copy(update={"integrations_timeout_s": 0.5, "integrations_attempts": 1})) as api:
        admin = await api.setup_admin()
        await add(api, admin, stands.body("plex"))
        stands.plex.set_faults(delay_s=10)
        r = await api.client.get("/api/v1/plex/libraries", headers=bearer(admin))
        assert "did not answer in time" in assert_error(r, 504, "UPSTREAM_TIMEOUT")["message"]
        assert len(stands.plex.requests) == 1


# -- /health -----------------------------------------------------------------------------------------------------


async def test_health_lists_services_and_stays_200_when_one_is_down(api: Api, app: FastAPI, stands: Stands) -> None:
    admin = await api.setup_admin()
    for kind in KINDS:
        await add(api, admin, stands.body(kind, kind.title()))
    off = await add(api, admin, {**stands.body("seerr", "Off"), "enabled": False})
    health = (await api.client.get("/health")).json()
    names = {f"service:{kind.title()}" for kind in KINDS}
    assert names <= set(health["checks"]) and "service:Off" not in health["checks"]
    for name in names:
        assert health["checks"][name]["critical"] is False and health["checks"][name]["status"] == "unknown"

    stands.plex.refuse()
    parts = app.state.parts
    checked = await status.check_due(parts.sessions, parts.integrations, parts.notifier, 60)
    assert off["id"] not in {str(i) for i in checked} and len(checked) == 4
    r = await api.client.get("/health")
    assert r.status_code == 200
    health = r.json()
    assert health["status"] == "ok"
    plex = health["checks"]["service:Plex"]
    assert plex["status"] == "fail" and plex["critical"] is False and "down" in plex["detail"]
    for kind in ("seerr", "uptime_kuma", "opensubtitles"):
        check = health["checks"][f"service:{kind.title()}"]
        assert check["status"] == "ok" and check["critical"] is False, (kind, check)
    assert health["checks"]["database"]["status"] == "ok"


async def test_plex_library_names_from_outside_are_cleaned(api: Api, stands: Stands) -> None:
    admin = await api.setup_admin()
    stands.plex.set_sections([("1", "Fil\x00ms\u202e\x1b[1m", "mov\x07ie", ["/srv/films"]),
                              ("7", "\x00\u202e", "artist", ["/srv/podcasts"])])  # nothing visible: its key
    sid = (await add(api, admin, stands.body("plex")))["id"]
    r = await api.client.get("/api/v1/plex/libraries", headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert [(lib["key"], lib["title"], lib["type"]) for lib in r.json()["data"]] == [
        ("1", "Films[1m", "movie"), ("7", "7", "artist")]
    assert (await run_test(api, admin, sid))["detail"] == "Plex Media Server 1.41.3.9314-a0bfb8370, 2 libraries: " \
                                                          "Films[1m, 7"
