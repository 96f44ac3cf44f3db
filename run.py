#!/usr/bin/env python3
"""Run a command in MediaNest's environment: `python3 run.py medianest serve --demo`, `python3 run.py pytest`.

It is `uv run <command>`, for a machine that has nothing but `python3`. Debian 12 and Ubuntu 24.04 ship a
`python3` without pip or venv, and refuse `pip install` outside a virtual environment (PEP 668), so this
script uses only the standard library: it finds uv (on PATH, or installed for this Python), or else
downloads uv's wheel for this machine from PyPI once, checks its SHA-256 against the digest PyPI
publishes, and keeps the `uv` binary in the user's cache. uv then makes `.venv` from `uv.lock` (it needs
neither pip nor venv) and runs the command in it.

Settings: MEDIANEST_UV (a uv binary to use), MEDIANEST_INDEX_URL (a package index speaking PyPI's JSON
simple API, PEP 691, such as a mirror; default https://pypi.org/simple).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

UV_VERSION = "0.13.9"
MIN_PYTHON = (3, 11)
TIMEOUT_S = 60
CHUNK = 1 << 16


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        return _fail(f"MediaNest needs Python {wanted} or newer; this is {platform.python_version()}")
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        uv = find_uv()
    except (OSError, ValueError) as exc:
        return _fail(f"could not get uv: {exc}")
    project = Path(__file__).resolve().parent
    if not (project / ".venv").exists():
        # Compile the packages' bytecode once, as the environment is made: where PYTHONDONTWRITEBYTECODE is set
        # (CI images, containers) nothing else would, and every process (a CLI command, a worker, each test's
        # server) would parse SQLAlchemy, FastAPI and the rest again, about 3 s a start on a small machine.
        os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
    command = [uv, "run", "--project", str(project), *argv]
    if os.name == "posix":
        os.execv(uv, command)  # noqa: S606 - the command's exit code and signals are the caller's directly
    return subprocess.call(command)


def find_uv() -> str:
    """A uv binary: MEDIANEST_UV, one on PATH, the one pip installed for this Python, or our cached copy."""
    for candidate in (os.environ.get("MEDIANEST_UV"), shutil.which("uv"), _uv_of_this_python()):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    cached = _cache_dir() / _binary_name()
    if not cached.exists():
        _download(cached)
    return str(cached)


def _uv_of_this_python() -> str | None:
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def _cache_dir() -> Path:
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "medianest" / f"uv-{UV_VERSION}"


def _binary_name() -> str:
    return "uv.exe" if os.name == "nt" else "uv"


def _download(target: Path) -> None:
    """Fetch uv's wheel for this machine, check its digest, and unpack the binary to `target`."""
    index = os.environ.get("MEDIANEST_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    project_url = f"{index}/uv/"
    listing = _get_json(project_url)
    ours = f"uv-{UV_VERSION}-"
    wheel = pick_wheel([f for f in listing.get("files", []) if f.get("filename", "").startswith(ours)
                        and f["filename"].endswith(".whl") and not f.get("yanked")])
    wheel["url"] = urllib.parse.urljoin(project_url, wheel["url"])  # PEP 691 allows relative URLs
    print(f"run.py: fetching uv {UV_VERSION} ({wheel['filename']}, {wheel.get('size', 0) // 1_000_000} MB) "
          "once, into " + str(target.parent), file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        path = Path(tmp) / wheel["filename"]
        _fetch(wheel["url"], path, int(wheel.get("size") or 0))
        digest = _sha256(path)
        if digest != wheel.get("hashes", {}).get("sha256"):
            raise ValueError(f"{wheel['filename']} does not match the SHA-256 PyPI publishes; refusing to run it")
        _unpack(path, target)


def pick_wheel(files: list[dict]) -> dict:
    """The wheel whose platform tag fits this machine (OS, CPU, and glibc or musl on Linux)."""
    wanted = _platform_tags()
    for tag in wanted:
        for f in files:
            if tag in f["filename"]:
                return f
    raise ValueError(f"uv {UV_VERSION} has no wheel for this machine ({sys.platform} {platform.machine()}); "
                     "install uv yourself (https://docs.astral.sh/uv/) and run this again")


def _platform_tags() -> list[str]:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if sys.platform.startswith("linux") else "arm64"}.get(
        machine, machine)
    if sys.platform == "darwin":
        return ["macosx_11_0_arm64"] if machine == "arm64" else ["macosx_10_12_x86_64"]
    if os.name == "nt":
        return {"x86_64": ["win_amd64"], "aarch64": ["win_arm64"], "arm64": ["win_arm64"]}.get(machine, ["win32"])
    libc = platform.libc_ver()[0]
    if libc == "glibc":
        return [f"manylinux_2_17_{machine}", f"manylinux_2_28_{machine}", f"manylinux_2_31_{machine}"]
    return [f"musllinux_1_1_{machine}"]


def _get_json(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - the index's https
        return json.load(response)


def _fetch(url: str, path: Path, size: int) -> None:
    done = 0
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, path.open("wb") as out:  # noqa: S310
        while chunk := response.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            if size and sys.stderr.isatty():
                print(f"\r  {done * 100 // size:3d} %", end="", file=sys.stderr, flush=True)
    if size and sys.stderr.isatty():
        print(file=sys.stderr)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _unpack(wheel: Path, target: Path) -> None:
    """The wheel keeps the binary at `uv-<version>.data/scripts/uv`; it lands beside `target` under a
    temporary name first, so an interrupted run never leaves half a binary where the next one looks."""
    member = f"uv-{UV_VERSION}.data/scripts/{_binary_name()}"
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, partial.open("wb") as out:
        shutil.copyfileobj(src, out)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(partial, target)


def _fail(message: str) -> int:
    print(f"run.py: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
