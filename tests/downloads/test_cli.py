"""`medianest download` in a real subprocess: the same queue as the server, a progress bar, the file
in the library."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.downloads.mediaserver import MediaServer


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medianest", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_download_command_runs_the_job_and_shows_progress(tmp_path: Path, server: MediaServer) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    env = {**base, "MEDIANEST_DATA_DIR": str(tmp_path / "data"), "MEDIANEST_MEDIA_DIRS": str(tmp_path / "lib"),
           "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "COLUMNS": "200"}
    nobody = run(env, "download", server.url("/media/song.mp3"))
    assert nobody.returncode == 2 and "no such user" in nobody.stderr  # a download belongs to someone
    assert run(env, "user", "create", "admin", "--admin", "--password", "a-long-password").returncode == 0

    done = run(env, "download", server.url("/media/song.mp3"), "--audio", "m4a", "--run-here")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stderr
    [path] = [p for p in (tmp_path / "lib").rglob("*") if p.is_file()]
    assert path.suffix == ".m4a" and path.stat().st_size > 1000

    refused = run({**env, "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "false"}, "download",
                  server.url("/media/song.mp3"))
    assert refused.returncode == 2 and "private" in refused.stderr.lower() and "Traceback" not in refused.stderr
