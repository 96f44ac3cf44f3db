"""The stream endpoint through a real `medianest serve` (granian, the fast path) on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from medianest.library.ffmpeg import run_ffmpeg
from tests.conftest import CHEAP_PASSWORDS_ENV, PASSWORD
from tests.liveserver import cmdline, parent_pids

HUGE = 1024**3  # a sparse file: reading it costs no disk, and its size makes an unread tail obvious


@pytest.fixture
def server(tmp_path: Path, media_dir: Path, free_port: int) -> Iterator[tuple[str, int]]:
    """A real server on one worker, stopped afterwards."""
    huge = media_dir / "Big" / "huge.wav"
    huge.parent.mkdir()
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "pcm_s16le", str(huge)])
    os.truncate(huge, HUGE)
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(tmp_path / "data"), "MEDIANEST_MEDIA_DIRS": str(media_dir),
           "MEDIANEST_PORT": str(free_port), "MEDIANEST_WORKERS": "1", "MEDIANEST_LOG_LEVEL": "WARNING",
           **CHEAP_PASSWORDS_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{free_port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def _wait_ready(base: str) -> dict[str, str]:
    deadline = time.monotonic() + 240  # a deadline for start-up, not an assertion about speed
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                r = httpx.post(f"{base}/api/v1/auth/setup", json={"username": "admin", "password": PASSWORD})
                return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start")


def _items(base: str, headers: dict[str, str], count: int) -> dict[str, dict[str, str]]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = httpx.get(f"{base}/api/v1/media", params={"per_page": 100}, headers=headers)
        assert r.status_code == 200, r.text
        items = r.json()["data"]
        if len(items) >= count:
            return {i["title"]: i for i in items}
        time.sleep(0.5)  # well inside the API's rate limit
    raise AssertionError(f"the start-up scan did not finish; the library holds {[i['title'] for i in items]}")


def _read_chars(pid: int) -> int:
    """Bytes the server's process and its descendants (workers, if any) have read with read(2)/pread(2) so
    far (Linux /proc/<pid>/io)."""
    total = 0
    for member in _process_tree(pid):
        with suppress(OSError):  # a process that has just exited
            total += next(int(line.split()[1]) for line in Path(f"/proc/{member}/io").read_text().splitlines()
                          if line.startswith("rchar:"))
    return total


def _process_tree(pid: int) -> set[int]:
    parents = parent_pids()
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree}
        grew = not found <= tree
        tree |= found
    # One worker: the pid is the server itself (medianest/server.py); with more, its workers are in the tree.
    serving = "medianest.server" in cmdline(pid)
    assert serving or len(tree) > 1, "no process that serves is measured"
    return tree


def _settled_read_chars(pid: int) -> int:
    """rchar once it has stopped growing: the server has finished whatever it was still doing."""
    last, steady = -1, 0
    deadline = time.monotonic() + 60
    while steady < 5 and time.monotonic() < deadline:
        now = _read_chars(pid)
        steady = steady + 1 if now == last else 0
        last = now
        time.sleep(0.1)
    return last


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/<pid>/io")
def test_real_server_ranges_metrics_and_abandoned_bodies(server: tuple[str, int],
                                                               media_files: dict[str, Path]) -> None:
    base, pid = server
    headers = _wait_ready(base)
    items = _items(base, headers, count=11)
    content = media_files["Bars Clip"].read_bytes()
    url = base + items["Bars Clip"]["stream_url"]

    r = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206 and r.content == content[1000:2000]
    assert r.headers["x-request-id"]
    head = httpx.head(url, headers={"Range": "bytes=0-9,20-29"})
    assert head.status_code == 206 and head.content == b""
    assert int(head.headers["content-length"]) > 20
    assert httpx.get(url, headers={"Range": f"bytes={len(content)}-"}).status_code == 416
    assert httpx.get(url.split("?")[0]).status_code == 401  # no credentials: the route explains
    assert httpx.get(url + "&download=1").headers["content-disposition"].startswith("attachment")
    metrics = httpx.get(f"{base}/metrics").text
    assert 'medianest_http_requests_total{endpoint="stream",method="GET",status="206"}' in metrics

    # A player that seeks closes its connection mid-body; the server must stop reading the file.
    huge = items["huge"]
    before = _settled_read_chars(pid)
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as sock:
        sock.sendall(f"GET {huge['stream_url']} HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n".encode())
        received = 0
        while received < 3 * 1024 * 1024:
            received += len(sock.recv(1 << 20))
    read = _settled_read_chars(pid) - before
    assert read < HUGE // 8, f"the server read {read:,} bytes of an abandoned {HUGE:,}-byte body"
