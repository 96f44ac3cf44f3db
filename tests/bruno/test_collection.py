"""The Bruno collection (`bruno/`) run by the Bruno CLI against a live `medianest serve`: its flow (setup,
sign-in, scan, list, a ranged stream, a playlist, a download from a media server on 127.0.0.1, a token
refresh) passes every assertion. The CLI comes from npm, pinned, installed once into the cache folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.downloads.mediaserver import MediaServer, make_video
from tests.liveserver import LiveServer, serve

BRU_VERSION = "4.1.0"
COLLECTION = Path(__file__).parents[2] / "bruno"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "medianest" / f"bruno-cli-{BRU_VERSION}"
FLOW_REQUESTS = len(list((COLLECTION / "flow").glob("*.bru")))


@pytest.fixture(scope="module")
def bru() -> Path:
    exe = CACHE / "node_modules" / ".bin" / "bru"
    if not exe.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the Bruno CLI (Node is on the development and CI machines)"
        staging = CACHE.with_name(CACHE.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging),
                        f"@usebruno/cli@{BRU_VERSION}"], check=True, capture_output=True, timeout=600)
        staging.rename(CACHE)  # whole or not at all: an interrupted install is made again
    return exe


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory, media_source: tuple[Path, dict[str, str]],
                 ) -> Iterator[LiveServer]:
    """At first run (no user yet), downloads from 127.0.0.1 allowed: what the flow starts from."""
    env = {"MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "MEDIANEST_SCAN_ON_START": "false"}
    with serve(tmp_path_factory.mktemp("bruno"), media_source[0], extra_env=env, setup_admin=False) as server:
        yield server


def test_the_flow_passes_every_assertion(bru: Path, fresh_server: LiveServer, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=2)
    report = tmp_path / "report.json"
    with MediaServer() as media:
        media.add_file("/media/clip.mp4", clip, "video/mp4")
        run = subprocess.run(
            [str(bru), "run", "flow", "--env", "local", "--env-var", f"baseUrl={fresh_server.base_url}",
             "--env-var", f"downloadUrl={media.url('/media/clip.mp4')}", "--reporter-json", str(report)],
            cwd=COLLECTION, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    results = json.loads(report.read_text())
    summary = results[0]["summary"] if isinstance(results, list) else results["summary"]
    assert summary["failedRequests"] == 0 and summary["failedAssertions"] == 0, summary
    assert summary["passedAssertions"] > 3 * FLOW_REQUESTS  # every request asserted, none skipped
    names = [r.get("test", {}).get("filename", "") for r in
             (results[0] if isinstance(results, list) else results)["results"]]
    for bru_file in (COLLECTION / "flow").glob("*.bru"):
        assert any(bru_file.name in name for name in names), f"{bru_file.name} did not run"
