"""The status board (connections/status.py) against stand-ins on 127.0.0.1: periodic checks and their claim,
what counts as up / degraded / down, `status:update` events, uptime arithmetic over the history, Uptime
Kuma monitors imported from a status page, and the pruning of old history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from medianest.connections import status
from medianest.connections.models import ServiceCheck, ServiceConfig, StatusMonitor
from medianest.db.base import utcnow
from tests.conftest import Api, bearer
from tests.integrations.kuma import DOWN, PENDING, UP, UptimeKuma
from tests.integrations.opensubtitles import OpenSubtitles
from tests.integrations.plexserver import PlexServer
from tests.integrations.quiet import overrides, settings  # noqa: F401 - fixtures
from tests.integrations.seerr import Seerr

BOARD = "/api/v1/services/status"




@pytest.fixture
def seerr() -> Iterator[Seerr]:
    with Seerr() as server:
        yield server


@pytest.fixture
def plex() -> Iterator[PlexServer]:
    with PlexServer() as server:
        yield server


@pytest.fixture
def kuma() -> Iterator[UptimeKuma]:
    with UptimeKuma() as server:
        server.add_page("home", "Home")
        yield server


async def add(api: Api, admin: str, kind: str, name: str, url: str, secret: str | None = None,
              enabled: bool = True, **options: Any) -> int:
    r = await api.client.post("/api/v1/services", headers=bearer(admin), json={
        "kind": kind, "name": name, "url": url, "secret": secret, "enabled": enabled, "options": options})
    assert r.status_code == 201, r.text
    return int(r.json()["data"]["id"])


async def check(app: FastAPI) -> list[int]:
    return await status.check_due(app.state.parts.sessions, app.state.parts.integrations, app.state.parts.notifier, 60)


async def make_due(app: FastAPI) -> None:
    """As if the interval had passed: every connection's turn has come."""
    async with app.state.parts.sessions() as session:
        await session.execute(update(ServiceConfig).values(next_check_at=None))
        await session.commit()


async def service(api: Api, admin: str, service_id: int) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/services/{service_id}", headers=bearer(admin))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def history(app: FastAPI, service_id: int, monitor_id: int | None = None) -> list[ServiceCheck]:
    async with app.state.parts.sessions() as session:
        monitor = ServiceCheck.monitor_id.is_(None) if monitor_id is None else ServiceCheck.monitor_id == monitor_id
        return list((await session.scalars(select(ServiceCheck).where(ServiceCheck.service_id == service_id, monitor)
                                           .order_by(ServiceCheck.checked_at))).all())


async def board(api: Api, token: str) -> dict[str, dict[str, Any]]:
    r = await api.client.get(BOARD, headers=bearer(token))
    assert r.status_code == 200, r.text
    return {e["id"]: e for e in r.json()["data"]}


def status_events(app: FastAPI, mark: int = 0) -> list[tuple[str, dict[str, Any], Any]]:
    return [e for e in list(app.state.parts.notifier.recent)[mark:] if e[0] == "status:update"]


async def insert_checks(app: FastAPI, service_id: int, rows: list[tuple[timedelta, str]],
                        monitor_id: int | None = None) -> None:
    now = utcnow()
    async with app.state.parts.sessions() as session:
        session.add_all(ServiceCheck(service_id=service_id, monitor_id=monitor_id, checked_at=now - age,
                                     status=state, response_ms=10.0) for age, state in rows)
        await session.commit()


# -- checks ------------------------------------------------------------------------------------------------------


async def test_a_check_records_its_outcome_and_is_claimed_once(api: Api, seerr: Seerr, plex: PlexServer) -> None:
    admin = await api.setup_admin()
    seerr_id = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    plex_id = await add(api, admin, "plex", "Plex", plex.url, "plex-server-token")
    off_id = await add(api, admin, "seerr", "Old Seerr", seerr.url, "seerr-test-key", enabled=False)
    assert (await service(api, admin, seerr_id))["status"] == "unknown"

    assert sorted(await check(api.app)) == sorted([seerr_id, plex_id])
    for sid, detail in ((seerr_id, "Seerr 3.2.0"), (plex_id, "Plex Media Server 1.41.3.9314-a0bfb8370")):
        now = await service(api, admin, sid)
        assert now["status"] == "up" and now["detail"] == detail
        assert isinstance(now["response_ms"], float) and now["response_ms"] >= 0
        rows = await history(api.app, sid)
        assert [(r.status, r.response_ms) for r in rows] == [("up", now["response_ms"])]
        assert datetime.fromisoformat(now["checked_at"].replace("Z", "+00:00")) == rows[0].checked_at
    assert len(seerr.calls("GET", "/api/v1/status")) == 1
    assert len(plex.calls("GET", "/identity")) == 1

    # Claimed until the next turn: a second round (another scheduler) right away finds nothing due.
    assert await check(api.app) == []
    assert len(seerr.calls("GET", "/api/v1/status")) == 1
    assert len(await history(api.app, seerr_id)) == 1
    async with api.app.state.parts.sessions() as session:
        claimed = await session.get(ServiceConfig, seerr_id)
        assert claimed is not None and claimed.next_check_at is not None
        assert claimed.checked_at is not None and claimed.next_check_at > claimed.checked_at

    # The disabled one is never checked, and not on the board.
    off = await service(api, admin, off_id)
    assert (off["status"], off["checked_at"]) == ("unknown", None)
    assert await history(api.app, off_id) == []
    assert str(off_id) not in await board(api, admin)

    await make_due(api.app)
    assert sorted(await check(api.app)) == sorted([seerr_id, plex_id])
    assert len(await history(api.app, seerr_id)) == 2 and len(await history(api.app, plex_id)) == 2


async def test_status_events_go_out_only_on_a_change(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")

    await check(api.app)
    events = status_events(api.app)
    assert [(p["id"], p["name"], p["kind"], p["status"], room) for _, p, room in events] == [
        (str(sid), "Seerr", "seerr", "up", "status")]
    assert events[0][1]["uptime_24h"] == 1.0

    mark = len(api.app.state.parts.notifier.recent)
    await make_due(api.app)
    await check(api.app)
    assert status_events(api.app, mark) == []  # still up: nothing to say

    seerr.set_faults(fail_status=500)
    await make_due(api.app)
    await check(api.app)
    assert [(p["status"], p["uptime_24h"], room) for _, p, room in status_events(api.app, mark)] == [
        ("down", 0.6667, "status")]

    mark = len(api.app.state.parts.notifier.recent)
    await make_due(api.app)
    await check(api.app)
    assert status_events(api.app, mark) == []  # still down

    seerr.set_faults()
    await make_due(api.app)
    await check(api.app)
    assert [p["status"] for _, p, _ in status_events(api.app, mark)] == ["up"]
    assert [r.status for r in await history(api.app, sid)] == ["up", "up", "down", "down", "up"]


@pytest.mark.parametrize("fault", ["refused", "500", "garbage", "drop"])
async def test_a_broken_service_is_down(api: Api, seerr: Seerr, fault: str) -> None:
    admin = await api.setup_admin()
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    if fault == "refused":
        seerr.refuse()
    elif fault == "500":
        seerr.set_faults(fail_status=500)
    elif fault == "garbage":
        seerr.set_faults(garbage=True)
    else:
        seerr.set_faults(drop=True)
    await check(api.app)
    now = await service(api, admin, sid)
    assert (now["status"], now["response_ms"]) == ("down", None)
    assert "Seerr" in now["detail"] and now["checked_at"] is not None
    assert [(r.status, r.response_ms) for r in await history(api.app, sid)] == [("down", None)]
    if fault != "refused":
        assert seerr.calls("GET", "/api/v1/status")  # it was asked, and answered badly


@pytest.mark.parametrize("overrides", [{"integrations_timeout_s": 0.5, "integrations_attempts": 1}])
async def test_a_service_slower_than_the_timeout_is_down(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    seerr.set_faults(delay_s=5)
    await check(api.app)
    now = await service(api, admin, sid)
    assert (now["status"], now["response_ms"]) == ("down", None)
    assert len(seerr.calls("GET", "/api/v1/status")) == 1


async def test_a_slow_answer_is_degraded(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    seerr.set_faults(delay_s=2.5)  # above the 2 s a person notices, well inside the 10 s timeout
    await check(api.app)
    now = await service(api, admin, sid)
    assert now["status"] == "degraded" and now["response_ms"] > 2000
    assert (await history(api.app, sid))[0].status == "degraded"


async def test_refused_credentials_are_degraded(api: Api) -> None:
    admin = await api.setup_admin()
    with OpenSubtitles(api_key="os-test-key") as osub:
        good = await add(api, admin, "opensubtitles", "Subs", osub.url, "os-test-key")
        bad = await add(api, admin, "opensubtitles", "Subs with a wrong key", osub.url, "not-the-key")
        await check(api.app)
    assert (await service(api, admin, good))["status"] == "up"
    wrong = await service(api, admin, bad)
    assert wrong["status"] == "degraded" and wrong["response_ms"] is not None
    assert "credentials" in wrong["detail"]
    assert [r.status for r in await history(api.app, bad)] == ["degraded"]


# -- uptime and the board -------------------------------------------------------------------------------------------


async def test_uptime_is_the_share_of_checks_that_answered(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    quiet = await add(api, admin, "generic_http", "Quiet", seerr.url)
    hour, day = timedelta(hours=1), timedelta(days=1)
    await insert_checks(api.app, sid, [
        # within 24 h: 3 answered (up, up, degraded), 1 down, 1 unknown (counts for neither)
        (1 * hour, "up"), (2 * hour, "up"), (3 * hour, "degraded"), (4 * hour, "down"), (5 * hour, "unknown"),
        # within 7 days only: 1 up, 2 down
        (2 * day, "up"), (3 * day, "down"), (6 * day, "down"),
        # older than 7 days: ignored
        (7 * day + hour, "down"), (7 * day + 5 * hour, "up"), (7 * day + 6 * hour, "down"),
    ])
    await insert_checks(api.app, sid, [(hour, "down")], monitor_id=99)  # a monitor's beats are its own

    entries = await board(api, alice)
    assert (entries[str(sid)]["uptime_24h"], entries[str(sid)]["uptime_7d"]) == (0.75, round(4 / 7, 4))
    assert (entries[str(quiet)]["uptime_24h"], entries[str(quiet)]["uptime_7d"]) == (None, None)
    assert (entries[str(quiet)]["status"], entries[str(quiet)]["checked_at"]) == ("unknown", None)
    assert set(entries[str(sid)]) >= {"name", "kind", "status", "response_ms", "checked_at", "uptime_24h",
                                      "uptime_7d"}


async def test_the_board_is_for_any_signed_in_user(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    await check(api.app)
    entries = await board(api, alice)
    assert (entries[str(sid)]["name"], entries[str(sid)]["status"]) == ("Seerr", "up")
    r = await api.client.get(BOARD)
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_old_history_is_pruned(api: Api, seerr: Seerr) -> None:
    admin = await api.setup_admin()
    sid = await add(api, admin, "seerr", "Seerr", seerr.url, "seerr-test-key")
    day = timedelta(days=1)
    await insert_checks(api.app, sid, [(9 * day, "down"), (8 * day + timedelta(hours=1), "down"),
                                       (7 * day + timedelta(hours=12), "up"), (timedelta(hours=1), "up")])
    await insert_checks(api.app, sid, [(10 * day, "up")], monitor_id=1)
    await status.prune(api.app.state.parts.sessions)
    assert [r.status for r in await history(api.app, sid)] == ["up", "up"]
    assert await history(api.app, sid, 1) == []

    await insert_checks(api.app, sid, [(9 * day, "down")])
    await check(api.app)  # each round prunes as well
    kept = await history(api.app, sid)
    assert [r.status for r in kept] == ["up", "up", "up"] and min(r.checked_at for r in kept) > utcnow() - 8 * day


# -- Uptime Kuma -------------------------------------------------------------------------------------------------


def ms(when: datetime) -> datetime:
    """A time as Kuma writes it (milliseconds)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_kuma_monitors_are_imported_onto_the_board(api: Api, kuma: UptimeKuma) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    now = datetime.now(UTC)
    kuma.add_monitor("home", 1, "NAS", group="Storage")
    kuma.add_monitor("home", 2, "Router", group="Network")
    kuma.add_monitor("home", 3, "Backup", group="Storage")
    kuma.beat(1, UP, 10, time=now - timedelta(hours=3))
    kuma.beat(1, DOWN, None, time=now - timedelta(hours=2))
    kuma.beat(1, UP, 12, time=now - timedelta(hours=1))
    kuma.set_uptime(1, 24, 0.9876)
    kuma.beat(2, UP, 5, time=now - timedelta(minutes=30))
    kuma.beat(2, DOWN, None, time=now - timedelta(minutes=10))
    kuma.beat(3, PENDING, 40, time=now - timedelta(minutes=5))
    sid = await add(api, admin, "uptime_kuma", "Kuma", kuma.url, slug="home")

    assert await check(api.app) == [sid]
    entries = await board(api, alice)
    assert entries[str(sid)]["status"] == "up" and entries[str(sid)]["kind"] == "uptime_kuma"
    nas, router, backup = entries[f"{sid}:1"], entries[f"{sid}:2"], entries[f"{sid}:3"]
    assert all(e["kind"] == "uptime_kuma_monitor" for e in (nas, router, backup))
    assert (nas["name"], nas["group"], nas["status"], nas["response_ms"]) == ("NAS", "Storage", "up", 12.0)
    assert (router["name"], router["group"], router["status"], router["response_ms"]) == (
        "Router", "Network", "down", None)
    assert (backup["name"], backup["group"], backup["status"], backup["response_ms"]) == (
        "Backup", "Storage", "degraded", 40.0)
    assert parse(nas["checked_at"]) == ms(now - timedelta(hours=1))
    # 24 h: Kuma's own figure; 7 days: from the heartbeats imported into the history.
    assert (nas["uptime_24h"], nas["uptime_7d"]) == (0.9876, 0.6667)
    assert (router["uptime_24h"], router["uptime_7d"]) == (0.5, 0.5)
    assert [(r.status, r.response_ms) for r in await history(api.app, sid, 1)] == [
        ("up", 10.0), ("down", None), ("up", 12.0)]
    assert [r.checked_at for r in await history(api.app, sid, 2)] == [
        ms(now - timedelta(minutes=30)), ms(now - timedelta(minutes=10))]
    moved = {p["id"]: (p["status"], room) for _, p, room in status_events(api.app)}
    assert moved == {str(sid): ("up", "status"), f"{sid}:1": ("up", "status"), f"{sid}:2": ("down", "status"),
                     f"{sid}:3": ("degraded", "status")}

    # The same heartbeats come again each round: imported once.
    await make_due(api.app)
    assert await check(api.app) == [sid]
    assert [len(await history(api.app, sid, m)) for m in (1, 2, 3)] == [3, 2, 1]
    kuma.beat(1, UP, 15)
    await make_due(api.app)
    await check(api.app)
    assert [len(await history(api.app, sid, m)) for m in (1, 2, 3)] == [4, 2, 1]
    assert (await board(api, alice))[f"{sid}:1"]["response_ms"] == 15.0
    assert len(await history(api.app, sid)) == 3  # one check of the page itself per round


async def test_a_monitor_taken_off_the_page_leaves_the_board(api: Api, kuma: UptimeKuma) -> None:
    admin = await api.setup_admin()
    kuma.add_monitor("home", 1, "NAS")
    kuma.add_monitor("home", 2, "Router")
    kuma.beat(1, UP, 10)
    kuma.beat(2, UP, 11)
    sid = await add(api, admin, "uptime_kuma", "Kuma", kuma.url, slug="home")
    await check(api.app)
    assert {f"{sid}:1", f"{sid}:2"} <= set(await board(api, admin))

    with kuma.lock:  # the stand-in has no control for this: take monitor 2 out of its group
        for group in kuma._pages["home"].groups:
            if 2 in group.monitor_ids:
                group.monitor_ids.remove(2)
    await make_due(api.app)
    await check(api.app)
    entries = await board(api, admin)
    assert f"{sid}:1" in entries and f"{sid}:2" not in entries


async def test_an_unreachable_kuma_page_keeps_what_the_board_knew(api: Api, kuma: UptimeKuma) -> None:
    admin = await api.setup_admin()
    kuma.add_monitor("home", 1, "NAS")
    kuma.beat(1, UP, 10)
    sid = await add(api, admin, "uptime_kuma", "Kuma", kuma.url, slug="home")
    await check(api.app)
    kuma.refuse()
    await make_due(api.app)
    await check(api.app)
    entries = await board(api, admin)
    assert entries[str(sid)]["status"] == "down"
    assert (entries[f"{sid}:1"]["status"], entries[f"{sid}:1"]["response_ms"]) == ("up", 10.0)
    assert len(await history(api.app, sid, 1)) == 1


async def test_kuma_names_from_outside_are_cleaned(api: Api, kuma: UptimeKuma) -> None:
    admin = await api.setup_admin()
    kuma.add_monitor("home", 1, "N\x00AS\u202e\x1b[2J\x07", group="Stor\x00age\u2066")
    kuma.add_monitor("home", 2, "\x00\u202e", group="\x1b")  # nothing visible left: named by its id
    kuma.beat(1, UP, 10)
    kuma.beat(2, UP, 11)
    sid = await add(api, admin, "uptime_kuma", "Kuma", kuma.url, slug="home")
    assert await check(api.app) == [sid]
    entries = await board(api, admin)
    assert (entries[f"{sid}:1"]["name"], entries[f"{sid}:1"]["group"]) == ("NAS[2J", "Storage")
    assert (entries[f"{sid}:2"]["name"], entries[f"{sid}:2"]["group"]) == ("2", None)
    async with api.app.state.parts.sessions() as session:
        stored = sorted((m.name, m.group_name) for m in await session.scalars(select(StatusMonitor)))
    assert stored == [("2", None), ("NAS[2J", "Storage")]


async def test_a_version_from_outside_is_stored_clean(api: Api, plex: PlexServer) -> None:
    admin = await api.setup_admin()
    plex.version = "1.41\x00.3\u202e\x1b[5m"
    sid = await add(api, admin, "plex", "Plex", plex.url, "plex-server-token")
    assert await check(api.app) == [sid]
    assert (await service(api, admin, sid))["detail"] == "Plex Media Server 1.41.3[5m"
