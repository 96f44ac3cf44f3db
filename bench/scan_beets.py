"""beets, the peer for the first scan: installed with pip into its own venv under bench/.work.

beets is not a MediaNest dependency; it lives in a separate venv so its pins never touch uv.lock.
Everything it writes (config, library, state) stays under bench/.work via BEETSDIR.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


class BeetsUnavailable(Exception):
    pass


def install(work: Path) -> Path:
    """The `beet` executable, installing beets into `work`/beets-venv the first time."""
    venv = work / "beets-venv"
    beet = venv / "bin" / "beet"
    if beet.exists():
        return beet
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "beets"], check=True,
                       capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(venv, ignore_errors=True)  # half-installed: try again next run
        detail = getattr(exc, "stderr", b"") or b""
        raise BeetsUnavailable(f"{exc} {detail.decode(errors='replace')[-500:]}") from exc
    return beet


def _config(home: Path) -> Path:
    """No autotag, no copy or move, no tag writes, no plugins: beets just reads and indexes."""
    cfg = home / "config.yaml"
    cfg.write_text(
        f"directory: {home / 'music'}\n"
        f"library: {home / 'library.db'}\n"
        "plugins: []\n"
        "import:\n  copy: no\n  move: no\n  write: no\n  autotag: no\n  resume: no\n  incremental: no\n"
    )
    return cfg


def _run(beet: Path, home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "BEETSDIR": str(home)}
    return subprocess.run([str(beet), "-c", str(home / "config.yaml"), *args], env=env,
                          capture_output=True, check=True, timeout=3600)


def first_import(beet: Path, home: Path, root: Path) -> tuple[float, float, int]:
    """`beet import -A -C -q` into a fresh library: seconds, CPU seconds, and items indexed."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    _config(home)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    _run(beet, home, "import", "-A", "-C", "-q", str(root))
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    items = _run(beet, home, "ls", "-f", "$id").stdout.split()
    return seconds, cpu, len(items)


def startup_seconds(beet: Path, home: Path) -> float:
    """What `beet version` costs: interpreter and import time, included in every import above."""
    home.mkdir(parents=True, exist_ok=True)
    _config(home)
    start = time.perf_counter()
    _run(beet, home, "version")
    return time.perf_counter() - start
