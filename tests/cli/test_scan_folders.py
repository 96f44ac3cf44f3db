"""`medianest scan` and media folders that are not there: a typo warns and is never created, a folder it
cannot read keeps its items."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Root reads any folder whatever its mode; without these two capabilities it obeys the mode like anyone.
AS_AN_ORDINARY_USER = (["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
                       if os.geteuid() == 0 else [])


def run(env: dict[str, str], *args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(prefix or []), sys.executable, "-m", "medianest", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def music(tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> Path:
    shutil.copytree(media_source[0] / "Music", tmp_path / "music")  # 4 songs in 2 album folders
    return tmp_path / "music"


def env_for(tmp_path: Path, *folders: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    return {**base, "MEDIANEST_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200",
            "MEDIANEST_MEDIA_DIRS": os.pathsep.join(str(f) for f in folders)}


def indexed(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "data" / "medianest.db") as db:
        count: int = db.execute("SELECT count(*) FROM media").fetchone()[0]
    return count


def test_a_typo_in_media_dirs_warns_and_is_not_created(tmp_path: Path, music: Path) -> None:
    typo = tmp_path / "muisc"
    scan = run({**env_for(tmp_path, music, typo), "MEDIANEST_LOG_FORMAT": "console"}, "scan")
    assert scan.returncode == 0, scan.stderr
    out = " ".join(scan.stderr.split())  # the console wraps long lines
    assert f"warning: media folder {typo} is missing" in out and "MEDIANEST_MEDIA_DIRS" in out
    assert not typo.exists()
    assert indexed(tmp_path) == 4 and "│ 4 " in scan.stderr  # the folder that is there is scanned


def test_off_a_terminal_the_typo_warning_is_a_json_log_line_only(tmp_path: Path, music: Path) -> None:
    typo = tmp_path / "muisc"
    scan = run(env_for(tmp_path, music, typo), "scan")  # stderr is a pipe: logs are JSON
    assert scan.returncode == 0, scan.stderr
    logged = [json.loads(line) for line in scan.stderr.splitlines() if line.startswith("{")]
    warnings = [e for e in logged if e["level"] == "warning" and e.get("path") == str(typo)]
    assert [w["reason"] for w in warnings] == ["missing (not mounted, moved or renamed)"]
    assert "warning: media folder" not in scan.stderr


@pytest.fixture
def locked(music: Path) -> Iterator[list[Path]]:
    """Folders the test takes read permission from; given back before the files are cleaned up."""
    taken: list[Path] = []
    yield taken
    for folder in taken:
        folder.chmod(0o755)


@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None,
                    reason="running as root without setpriv: no way to be refused a folder")
@pytest.mark.parametrize("which", ["a folder inside", "the media folder"])
def test_a_folder_that_cannot_be_read_keeps_its_items(
        tmp_path: Path, music: Path, locked: list[Path], which: str) -> None:
    env = env_for(tmp_path, music)
    assert run(env, "scan").returncode == 0 and indexed(tmp_path) == 4
    folder = music / "Björk Tribute" if which == "a folder inside" else music
    folder.chmod(0)
    locked.append(folder)

    scan = run(env, "scan", prefix=AS_AN_ORDINARY_USER)

    assert scan.returncode == 0, scan.stderr
    out = " ".join(scan.stderr.split())
    assert f"offline: {folder}: cannot be read (permission denied); nothing in it was removed" in out
    assert indexed(tmp_path) == 4
    folder.chmod(0o755)
    back = run(env, "scan", prefix=AS_AN_ORDINARY_USER)
    assert back.returncode == 0 and "offline:" not in back.stderr and indexed(tmp_path) == 4
