"""run.py, the README's entry point on a machine with nothing but `python3` (no pip, no venv, PEP 668).

It runs here under `python -S` (no site-packages: no pip, no uv module, as on a stock Debian python3),
with a PATH without uv, against a PyPI stand-in on 127.0.0.1 that serves a wheel made by the test whose
`uv` binary is a shell script printing its arguments.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import run  # noqa: E402

FAKE_UV = b"#!/bin/sh\necho \"fake uv: $*\"\n"


def _wheel_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"uv-{run.UV_VERSION}.data/scripts/uv", FAKE_UV)
        zf.writestr(f"uv-{run.UV_VERSION}.dist-info/METADATA", "Name: uv\n")
    return buf.getvalue()


class _PyPI:
    """Serves PyPI's JSON simple API for uv (PEP 691) and the wheel it names; records the paths asked for."""

    def __init__(self, digest: str | None = None) -> None:
        self.wheel = _wheel_bytes()
        self.digest = digest or hashlib.sha256(self.wheel).hexdigest()
        self.requests: list[str] = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests.append(self.path)
                body, kind = stand_in.answer(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None: ...

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[bytes | None, str]:
        tags = run._platform_tags()
        name = f"uv-{run.UV_VERSION}-py3-none-{tags[0]}.whl"
        if path == "/simple/uv/":
            other = f"uv-0.0.1-py3-none-{tags[0]}.whl"  # another version's wheel for this machine: not taken
            files = [{"filename": f"uv-{run.UV_VERSION}.tar.gz", "url": "/sdist", "hashes": {"sha256": "0"}},
                     {"filename": other, "url": f"/files/{other}", "hashes": {"sha256": "0"}},
                     {"filename": name, "url": f"../../files/{name}", "size": len(self.wheel),
                      "hashes": {"sha256": self.digest}}]
            return json.dumps({"meta": {"api-version": "1.0"}, "name": "uv", "files": files}).encode(), \
                "application/vnd.pypi.simple.v1+json"
        if path == f"/files/{name}":
            return self.wheel, "application/octet-stream"
        return None, "text/plain"


@pytest.fixture
def pypi() -> Iterator[_PyPI]:
    server = _PyPI()
    yield server
    server.server.shutdown()


def _run(tmp_path: Path, index: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "MEDIANEST_INDEX_URL": f"{index}/simple"}
    # -S: no site-packages, so neither pip nor a pip-installed uv exists, as on a stock Debian python3.
    return subprocess.run([sys.executable, "-S", str(ROOT / "run.py"), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.skipif(os.name != "posix", reason="the fake uv is a shell script")
def test_a_bare_python_fetches_uv_checks_it_and_runs_the_command(tmp_path: Path, pypi: _PyPI) -> None:
    first = _run(tmp_path, pypi.url, "medianest", "serve", "--demo")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"fake uv: run --project {ROOT} medianest serve --demo"
    cached = tmp_path / "cache" / "medianest" / f"uv-{run.UV_VERSION}" / "uv"
    assert cached.read_bytes() == FAKE_UV
    # The second run uses the cached binary: nothing is fetched again.
    asked = len(pypi.requests)
    second = _run(tmp_path, pypi.url, "pytest", "-q")
    assert second.stdout.strip() == f"fake uv: run --project {ROOT} pytest -q"
    assert len(pypi.requests) == asked


def test_a_wheel_that_does_not_match_its_published_digest_is_refused(tmp_path: Path) -> None:
    server = _PyPI(digest="0" * 64)
    try:
        result = _run(tmp_path, server.url, "pytest")
    finally:
        server.server.shutdown()
    assert result.returncode == 1
    assert "does not match the SHA-256" in result.stderr
    folder = tmp_path / "cache" / "medianest" / f"uv-{run.UV_VERSION}"
    assert list(folder.iterdir()) == []  # nothing left behind to be run next time


def test_an_unreachable_index_says_so(tmp_path: Path) -> None:
    result = _run(tmp_path, "http://127.0.0.1:9", "pytest")
    assert result.returncode == 1
    assert result.stderr.startswith("run.py: could not get uv:")


def test_wheel_choice_follows_the_machine() -> None:
    files = [{"filename": f"uv-{run.UV_VERSION}-py3-none-{tag}.whl"} for tag in (
        "musllinux_1_1_x86_64", "manylinux_2_17_x86_64.manylinux2014_x86_64", "macosx_11_0_arm64", "win_amd64")]
    chosen = run.pick_wheel(files)["filename"]
    assert any(tag in chosen for tag in run._platform_tags())
    with pytest.raises(ValueError, match="no wheel for this machine"):
        run.pick_wheel([{"filename": "uv-0-py3-none-plan9_mips.whl"}])
