"""How many processes `medianest serve` runs: one for one worker (the command becomes the server, so the
process that prepared - SQLAlchemy, Alembic, typer, rich loaded - does not idle beside it), Granian's
supervisor and N workers for more; and in both, scans and migrations happen once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from tests.liveserver import LIBRARY_ITEMS, cmdline, parent_pids, serve


def _children(pid: int) -> list[str]:
    """The command lines of `pid`'s child processes."""
    return [cmdline(child) for child, parent in parent_pids().items() if parent == pid]


def test_one_worker_is_one_process_that_stops_on_sigterm(
        tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> None:
    with serve(tmp_path, media_source[0]) as server:
        # The pid we started is the server now, not a supervisor.
        assert "medianest.server" in cmdline(server.process.pid)
        assert _children(server.process.pid) == []  # no worker, no resource tracker, no idle fork server
        assert httpx.get(f"{server.base_url}/health").json()["status"] == "ok"
        os.kill(server.process.pid, signal.SIGTERM)
        assert server.process.wait(30) == 0
    assert "Traceback" not in server.log_file.read_text()


def test_two_workers_serve_under_a_supervisor_and_scan_once(
        tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> None:
    with serve(tmp_path, media_source[0], extra_env={"MEDIANEST_WORKERS": "2"}) as server:
        workers = [c for c in _children(server.process.pid) if "spawn_main" in c]
        assert len(workers) == 2
        # Requests land on either worker: each answers as the same server, with the whole library.
        totals = {httpx.get(f"{server.base_url}/api/v1/media", headers=server.headers()).json()["meta"]["total"]
                  for _ in range(6)}
        assert len(totals) == 1 and totals.pop() >= LIBRARY_ITEMS
        first = httpx.get(f"{server.base_url}/api/v1/library/scans/1", headers=server.headers())
        assert first.json()["data"]["status"] == "completed"
        # The supervisor scanned; no worker did too.
        second = httpx.get(f"{server.base_url}/api/v1/library/scans/2", headers=server.headers())
        assert second.status_code == 404
