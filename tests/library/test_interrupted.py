"""A scan whose process died (kill -9, power loss) is marked interrupted, not left running forever."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from medianest.app import create_app
from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.db.engine import create_engine, create_session_factory
from medianest.library import liveness
from medianest.library.models import SCAN_RUNNING, Scan
from medianest.library.scans import STALE_AFTER_S
from tests.conftest import Api, bearer

# `medianest scan` with its walk stuck, as on a network share that stopped answering: the scan row says
# running (and its heartbeat goes on) until the process is killed.
BLOCKED_SCAN = textwrap.dedent("""
    import threading
    from medianest.cli.scan import scan
    from medianest.library import scanner

    def stuck(roots):
        threading.Event().wait()

    scanner.walk = stuck
    scan()
""")


def scan_env(settings: Settings) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    return {**base, "MEDIANEST_DATA_DIR": str(settings.data_dir), "MEDIANEST_DATABASE_URL": settings.db_url,
            "MEDIANEST_MEDIA_DIRS": os.pathsep.join(str(d) for d in settings.library_dirs)}


async def running_scans(settings: Settings) -> list[Scan]:
    engine = create_engine(settings.db_url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.scalars(select(Scan).where(Scan.status == SCAN_RUNNING))).all())
    finally:
        await engine.dispose()


async def wait_for_running_scan(settings: Settings, child: asyncio.subprocess.Process) -> Scan:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert child.returncode is None, "the scanning process ended on its own"
        try:
            found = await running_scans(settings)
        except Exception:  # the child is still creating the database
            found = []
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError("the scan never started")


@pytest.fixture
async def restarted(settings: Settings) -> AsyncIterator[Any]:
    """Starts the app when the test says so (after the kill), like a server restarted."""
    stack: list[Any] = []

    async def start() -> tuple[FastAPI, httpx.AsyncClient]:
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        stack.append(lifespan)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        stack.append(client)
        return app, client

    yield start
    for thing in reversed(stack):
        await thing.__aexit__(None, None, None)


async def test_a_scan_killed_mid_way_is_interrupted_after_a_restart(
        settings: Settings, media_files: dict[str, Path], restarted: Any) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", BLOCKED_SCAN, env=scan_env(settings),
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        scan = await wait_for_running_scan(settings, child)
        assert scan.owner is not None and scan.owner.split(":")[1] == str(child.pid)
    finally:
        child.send_signal(signal.SIGKILL)  # kill -9: no chance to say goodbye
        await asyncio.wait_for(child.wait(), 60)
    assert child.returncode == -signal.SIGKILL
    assert [s.id for s in await running_scans(settings)] == [scan.id]  # nobody has noticed yet

    app, client = await restarted()
    assert await running_scans(settings) == []  # marked at start, before anyone asks
    api = Api(client, app)
    token = await api.setup_admin()
    r = await client.get(f"/api/v1/library/scans/{scan.id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()["data"]
    assert body["status"] == "interrupted" and body["finished_at"] is not None
    assert body["error"] == (f"interrupted: its process ({child.pid} on {socket.gethostname()}) "
                             "stopped before it finished")
    again = await api.scan()  # and a new scan runs, rather than joining the dead one
    assert again["id"] != scan.id and again["status"] == "completed"


async def add_scan(api: Api, owner: str | None, heartbeat_age_s: float) -> int:
    async with api.app.state.parts.sessions() as session:
        scan = Scan(status=SCAN_RUNNING, owner=owner, heartbeat_at=utcnow() - timedelta(seconds=heartbeat_age_s),
                    started_at=utcnow())
        session.add(scan)
        await session.commit()
        return scan.id


async def status_of(api: Api, token: str, scan_id: int) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/library/scans/{scan_id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_a_scan_without_a_heartbeat_is_interrupted_and_a_live_one_joined(api: Api) -> None:
    """Scans of other hosts (the scaled mode) are judged by their heartbeat alone."""
    token = await api.setup_admin()
    silent = await add_scan(api, "another-host:4242:123", STALE_AFTER_S + 60)
    alive = await add_scan(api, "another-host:4343:456", 1)

    stale = await status_of(api, token, silent)
    assert stale["status"] == "interrupted" and "no heartbeat" in stale["error"]
    assert (await status_of(api, token, alive))["status"] == "running"
    r = await api.client.post("/api/v1/library/scans", headers=bearer(token))
    assert r.status_code == 202 and r.json()["data"]["id"] == str(alive)  # joined, not a second scan


async def test_a_pid_reused_by_another_process_is_not_taken_for_the_scans(api: Api) -> None:
    token = await api.setup_admin()
    me = liveness.this_process()
    host, pid, started = me.rsplit(":", 2)
    reused = await add_scan(api, f"{host}:{pid}:{int(started) - 1}", 1)  # same pid, started earlier
    ours = await add_scan(api, me, 1)
    assert (await status_of(api, token, reused))["status"] == "interrupted"
    assert (await status_of(api, token, ours))["status"] == "running"


def test_liveness_tells_a_finished_process_from_a_running_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        owner = f"{socket.gethostname()}:{child.pid}:{liveness.start_time(child.pid)}"
        assert not liveness.is_gone(owner)
    finally:
        child.communicate(b"")
    assert liveness.is_gone(owner)
    assert not liveness.is_gone(f"other-host:{child.pid}:1")  # not knowable from here: heartbeat only
