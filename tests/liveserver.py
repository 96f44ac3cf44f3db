"""A real `medianest serve` process on 127.0.0.1 with a copy of the generated library, for tests that need a
socket: tests/server (the API over HTTP, schemathesis) and tests/web (a real browser).

`serve()` starts the process on a free port with its own data folder (SQLite there, or a fresh PostgreSQL
database when MEDIANEST_TEST_DATABASE_URL is set), waits until it answers /health, optionally sets up the
admin and waits for the start-up scan, and stops the process (and drops the database) on exit.

Nothing the server does can leave the machine: its outgoing HTTP goes to a closed local port unless it is for
loopback, and Plex sign-ins go to the plex.tv stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.accounts.plextv import PlexTv, running
from tests.conftest import CHEAP_PASSWORDS_ENV, PASSWORD, PG_URL
from tests.loopback import free_port, http, stop_process
from tests.media import copy_library

CLOSED_PROXY = "http://127.0.0.1:9"
ADMIN = "admin"  # the admin `serve(setup_admin=True)` creates, with tests.conftest.PASSWORD
LIBRARY_ITEMS = 7  # what the start-up scan indexes from tests.media.build_library


@dataclass
class LiveServer:
    base_url: str
    token: str | None  # the admin's access token; None when started with setup_admin=False
    data_dir: Path
    media_dir: Path
    process: subprocess.Popen[bytes]
    log_file: Path
    plextv: PlexTv  # the plex.tv stand-in this server signs Plex users in with

    def headers(self) -> dict[str, str]:
        if self.token is None:
            raise RuntimeError("this server was started without an admin (setup_admin=False): there is no token")
        return {"Authorization": f"Bearer {self.token}"}

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's stdout/stderr, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def serve(tmp_root: Path, media_source_dir: Path, *, extra_env: dict[str, str] | None = None,
          setup_admin: bool = True) -> Iterator[LiveServer]:
    """Run `python -m medianest serve` with its data and a copy of `media_source_dir` under `tmp_root`.

    `extra_env` is added last (so it can override the defaults below). With `setup_admin` the admin
    ("admin", tests.conftest.PASSWORD) is created and the start-up scan waited for; without, the server is
    left at first-run (no user; the scan still runs in the background, unobserved).
    """
    media = tmp_root / "media"
    copy_library(media_source_dir, media)
    with contextlib.ExitStack() as stack:
        port = free_port()
        env = {**os.environ, "MEDIANEST_DATA_DIR": str(tmp_root / "data"), "MEDIANEST_MEDIA_DIRS": str(media),
               "MEDIANEST_PORT": str(port), "MEDIANEST_RATE_LIMITS_ENABLED": "false",
               "MEDIANEST_LOG_LEVEL": "WARNING", **CHEAP_PASSWORDS_ENV,
               # A session's server outlives the 15-minute default on a loaded CI, and its admin token with it.
               "MEDIANEST_ACCESS_TOKEN_TTL_S": str(24 * 3600),
               # Plex sign-ins go to the plex.tv stand-in, never to plex.tv.
               "MEDIANEST_PLEX_TV_URL": (plextv := stack.enter_context(running())).url,
               # Service connections may name any host: the outgoing client (which honours the usual proxy
               # variables) sends everything but loopback to a closed local port, so no name is ever looked
               # up and nothing leaves the machine.
               **{name: CLOSED_PROXY for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
               "NO_PROXY": "127.0.0.1,localhost",
               # Remote search: Dailymotion at the closed port too, and no YouTube search (yt-dlp, which
               # ignores the proxy variables on purpose, would go online). A test may aim them at stand-ins.
               "MEDIANEST_DAILYMOTION_API_URL": CLOSED_PROXY, "MEDIANEST_REMOTE_SEARCH_SITES": "dailymotion"}
        env.pop("MEDIANEST_DATABASE_URL", None)
        if PG_URL:  # in CI the live server runs on PostgreSQL
            env["MEDIANEST_DATABASE_URL"] = stack.enter_context(_fresh_pg_database(PG_URL))
        env.update(extra_env or {})
        log_file = tmp_root / "server.log"
        log = stack.enter_context(log_file.open("wb"))
        proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env, stdout=log, stderr=log)
        stack.callback(stop_process, proc)
        server = LiveServer(f"http://127.0.0.1:{port}", None, tmp_root / "data", media, proc, log_file, plextv)
        try:
            _wait_healthy(server.base_url, proc)
            if setup_admin:
                r = http().post(f"{server.base_url}/api/v1/auth/setup", json={"username": ADMIN, "password": PASSWORD})
                r.raise_for_status()
                server.token = r.json()["data"]["access_token"]
                _wait_scanned(server.base_url, server.token)
        except Exception as exc:
            raise RuntimeError(f"the live server at {server.base_url} failed to start: {exc}\n"
                               f"--- {log_file} (last lines) ---\n{server.log_tail()}") from exc
        yield server


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if http().get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


@contextlib.contextmanager
def _fresh_pg_database(server_url: str) -> Iterator[str]:
    url = make_url(server_url)
    name = f"medianest_live_{secrets.token_hex(6)}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:
        # In a thread of its own: the caller's thread may have a running event loop (Playwright's sync API
        # keeps one in the test thread), where asyncio.run() refuses to start.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, execute(sql)).result()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_scanned(url: str, token: str, timeout_s: float = 60, min_items: int = LIBRARY_ITEMS) -> None:
    """The start-up scan runs in the background; wait until the library has items."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = http().get(f"{url}/api/v1/media", headers={"Authorization": f"Bearer {token}"})
        if r.json()["meta"]["total"] >= min_items:
            return
        time.sleep(0.2)
    raise RuntimeError("start-up scan did not index the library")


def parent_pids() -> dict[int, int]:
    """Every process's parent pid (Linux /proc), for tests that look at a server's process tree."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # gone meanwhile
            # The field after the command name, which is in parentheses and may hold spaces.
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    return parents


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def rescan(server: LiveServer) -> dict[str, Any]:
    """Scan the server's library now (after a test put files in it) and wait for the scan to end.

    A scan asked for while one runs is that one (the API's rule), and one that began before the test's files
    were there (the start-up scan's tail: its items are listed before it ends) may not see them: it is
    waited for, and a scan of our own asked for after it."""
    url = f"{server.base_url}/api/v1/library/scans"
    asked = datetime.now(UTC)
    scan: dict[str, Any] = http().post(url, headers=server.headers()).json()["data"]
    if datetime.fromisoformat(scan["created_at"]) < asked:
        _wait_for_scan(server, scan["id"])
        scan = http().post(url, headers=server.headers()).json()["data"]
    return _wait_for_scan(server, scan["id"])


def _wait_for_scan(server: LiveServer, scan_id: str) -> dict[str, Any]:
    url = f"{server.base_url}/api/v1/library/scans/{scan_id}"
    for _ in range(600):
        scan: dict[str, Any] = http().get(url, headers=server.headers()).json()["data"]
        if scan["status"] not in ("queued", "running"):
            return scan
        time.sleep(0.1)
    raise AssertionError(f"the scan did not end: {scan}")
