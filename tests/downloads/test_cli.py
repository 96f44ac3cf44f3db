"""`medianest download` in a real subprocess: the same queue as the server, a progress bar, the file
in the library; with nobody taking jobs from the queue it says so and keeps following the download."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import CHEAP_PASSWORDS_ENV
from tests.downloads.mediaserver import MediaServer

NOBODY = "no server or worker is taking jobs from the queue"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medianest", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def environment(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "lib").mkdir()  # a media folder that is there (a missing one is never created)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    return {**base, "MEDIANEST_DATA_DIR": str(tmp_path / "data"), "MEDIANEST_MEDIA_DIRS": str(tmp_path / "lib"),
            "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "COLUMNS": "200", **CHEAP_PASSWORDS_ENV}


def test_download_command_runs_the_job_and_shows_progress(tmp_path: Path, server: MediaServer) -> None:
    env = environment(tmp_path)
    nobody = run(env, "download", server.url("/media/song.mp3"))
    assert nobody.returncode == 2 and "no such user" in nobody.stderr  # a download belongs to someone
    assert run(env, "user", "create", "admin", "--admin", "--password", "a-long-password").returncode == 0

    done = run(env, "download", server.url("/media/song.mp3"), "--audio", "m4a", "--run-here")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stderr
    assert "debug" not in (done.stdout + done.stderr).lower()  # the default level is INFO
    [path] = [p for p in (tmp_path / "lib").rglob("*") if p.is_file()]
    assert path.suffix == ".m4a" and path.stat().st_size > 1000

    refused = run({**env, "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "false"}, "download",
                  server.url("/media/song.mp3"))
    assert refused.returncode == 2 and "private" in refused.stderr.lower() and "Traceback" not in refused.stderr


class Lines:
    """A process's stderr, read as it comes, so a test can wait for a line without a deadlock."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.text += line

    def wait_for(self, needle: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.text:
            assert time.monotonic() < deadline, self.text
            time.sleep(0.1)

    def close(self) -> str:
        self._thread.join(10)
        return self.text


def test_download_with_nobody_taking_jobs_says_so_and_keeps_following(tmp_path: Path, server: MediaServer) -> None:
    env = environment(tmp_path)
    assert run(env, "user", "create", "admin", "--admin", "--password", "a-long-password").returncode == 0
    cli = subprocess.Popen([sys.executable, "-m", "medianest", "download", server.url("/media/song.mp3")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker: subprocess.Popen[bytes] | None = None
    try:
        lines = Lines(cli)
        lines.wait_for(NOBODY, timeout_s=120)
        assert "medianest worker" in lines.text and "--run-here" in lines.text
        assert cli.poll() is None  # still following the download
        with (tmp_path / "worker.log").open("wb") as log:  # someone starts a worker: the download runs
            worker = subprocess.Popen([sys.executable, "-m", "medianest", "worker"], env=env, stdout=log, stderr=log)
        assert cli.wait(timeout=240) == 0, lines.text
        assert "completed" in lines.close()
        assert [p for p in (tmp_path / "lib").rglob("*") if p.is_file()]
    finally:
        for proc in (cli, worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
