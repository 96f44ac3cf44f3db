"""Self-test of the Uptime Kuma stand-in, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integrations.kuma import DOWN, MAINTENANCE, PENDING, UP, UptimeKuma

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


@pytest.fixture
def kuma() -> Iterator[UptimeKuma]:
    with UptimeKuma() as server:
        server.add_page("home", "Home Lab")
        server.add_monitor("home", 1, "Plex")
        server.add_monitor("home", 2, "Seerr", group="Apps", type="keyword")
        server.add_page("other", "Other")
        server.add_monitor("other", 9, "Hidden elsewhere")
        yield server


@pytest.fixture
def client(kuma: UptimeKuma) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kuma.url, trust_env=False, timeout=5) as c:
        yield c


def test_status_page_shape(client: httpx.Client) -> None:
    r = client.get("/api/status-page/HOME")  # Kuma lower-cases the slug
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"config", "incident", "publicGroupList", "maintenanceList"}
    assert body["config"]["slug"] == "home" and body["config"]["title"] == "Home Lab"
    assert body["config"]["published"] is True and body["config"]["icon"] == "/icon.svg"
    assert body["incident"] is None and body["maintenanceList"] == []
    groups = body["publicGroupList"]
    assert [(g["name"], g["weight"]) for g in groups] == [("Services", 1), ("Apps", 2)]
    assert groups[0]["monitorList"] == [{"id": 1, "name": "Plex", "sendUrl": 0, "type": "http"}]
    assert groups[1]["monitorList"][0]["type"] == "keyword"
    assert isinstance(groups[0]["id"], int) and groups[0]["id"] != groups[1]["id"]


def test_unknown_page_is_404_fail(client: httpx.Client) -> None:
    r = client.get("/api/status-page/nope")
    assert r.status_code == 404
    assert r.json() == {"status": "fail", "msg": "Status Page Not Found"}


def test_heartbeats_oldest_first_and_public(kuma: UptimeKuma, client: httpx.Client) -> None:
    t0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    kuma.beat(1, UP, ping=42, msg="200 - OK", time=t0 + timedelta(minutes=1))
    kuma.beat(1, DOWN, msg="timeout", time=t0)  # added later but older: must come first
    kuma.beat(2, PENDING, time=t0)
    body = client.get("/api/status-page/heartbeat/home").json()
    assert set(body) == {"heartbeatList", "uptimeList"}
    assert list(body["heartbeatList"]) == ["1", "2"]  # only this page's monitors, string keys
    assert body["heartbeatList"]["1"] == [
        {"status": DOWN, "time": "2024-05-01 12:00:00.123", "msg": "", "ping": None},
        {"status": UP, "time": "2024-05-01 12:01:00.123", "msg": "", "ping": 42},
    ]
    assert set(body["uptimeList"]) == {"1_24", "2_24"}


def test_heartbeats_keep_last_100_and_time_format(kuma: UptimeKuma, client: httpx.Client) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    for i in range(130):
        kuma.beat(1, UP if i % 2 else DOWN, ping=i, time=start + timedelta(seconds=i))
    beats = client.get("/api/status-page/heartbeat/home").json()["heartbeatList"]["1"]
    assert len(beats) == 100
    assert [b["ping"] for b in beats] == list(range(30, 130))
    assert all(TIME_RE.match(b["time"]) for b in beats)


def test_uptime_computed_and_overridden(kuma: UptimeKuma, client: httpx.Client) -> None:
    now = datetime.now(UTC)
    for status in (UP, UP, UP, DOWN, MAINTENANCE):
        kuma.beat(1, status, time=now - timedelta(minutes=5))
    kuma.beat(1, DOWN, time=now - timedelta(days=3))  # outside 24 h
    kuma.beat(2, UP)
    uptimes = client.get("/api/status-page/heartbeat/home").json()["uptimeList"]
    assert uptimes["1_24"] == pytest.approx(0.75)
    assert uptimes["2_24"] == 1 and isinstance(uptimes["2_24"], int)  # JSON 1, as Node writes it
    kuma.set_uptime(1, 24, 0.5)
    kuma.set_uptime(1, 720, 0.9)
    uptimes = client.get("/api/status-page/heartbeat/home").json()["uptimeList"]
    assert uptimes == {"1_24": 0.5, "2_24": 1}  # the real route never serves _720
    assert kuma.uptime(1, 720) == 0.9


def test_heartbeat_unknown_slug_is_empty_200(client: httpx.Client) -> None:
    r = client.get("/api/status-page/heartbeat/nope")
    assert r.status_code == 200
    assert r.json() == {"heartbeatList": {}, "uptimeList": {}}


def test_monitor_without_beats_and_controls_validate(kuma: UptimeKuma, client: httpx.Client) -> None:
    body = client.get("/api/status-page/heartbeat/other").json()
    assert body == {"heartbeatList": {"9": []}, "uptimeList": {"9_24": 0}}
    with pytest.raises(KeyError):
        kuma.beat(77, UP)
    with pytest.raises(ValueError):
        kuma.set_uptime(1, 48, 0.1)


def test_no_auth_needed_and_other_routes(client: httpx.Client) -> None:
    assert client.get("/api/status-page/home", headers={"Authorization": "Bearer junk"}).status_code == 200
    spa = client.get("/dashboard")
    assert spa.status_code == 200 and spa.headers["content-type"].startswith("text/html")
    post = client.post("/api/status-page/home")
    assert post.status_code == 404 and "Cannot POST /api/status-page/home" in post.text


def test_fault_delay_still_answers(kuma: UptimeKuma, client: httpx.Client) -> None:
    kuma.set_faults(delay_s=0.3)
    assert client.get("/api/status-page/home").status_code == 200


def test_fault_fail_status(kuma: UptimeKuma, client: httpx.Client) -> None:
    kuma.set_faults(fail_status=503)
    r = client.get("/api/status-page/heartbeat/home")
    assert r.status_code == 503
    assert r.json() == {"status": "fail", "msg": "SQLITE_BUSY: database is locked"}
    kuma.set_faults(fail_status=403)
    assert client.get("/api/status-page/home").json() == {"status": "fail", "msg": "Forbidden"}


def test_fault_garbage(kuma: UptimeKuma, client: httpx.Client) -> None:
    kuma.set_faults(garbage=True)
    r = client.get("/api/status-page/home")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_fault_drop(kuma: UptimeKuma, client: httpx.Client) -> None:
    kuma.set_faults(drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/status-page/home")


def test_refuse(kuma: UptimeKuma) -> None:
    kuma.refuse()
    with httpx.Client(trust_env=False, timeout=5) as c, pytest.raises(httpx.ConnectError):
        c.get(f"{kuma.url}/api/status-page/home")


def test_request_log(kuma: UptimeKuma, client: httpx.Client) -> None:
    client.get("/api/status-page/heartbeat/home")
    assert len(kuma.calls("GET", "/api/status-page/heartbeat/home")) == 1
