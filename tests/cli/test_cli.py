"""The `medianest` command in a real subprocess: demo, scan, user management, db upgrade."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from medianest.db.migrate import alembic_config
from tests.conftest import CHEAP_PASSWORDS_ENV


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medianest", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    return {**base, **CHEAP_PASSWORDS_ENV, "MEDIANEST_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_demo_then_scan_prints_a_summary(env: dict[str, str], tmp_path: Path) -> None:
    demo = run(env, "demo")
    assert demo.returncode == 0, demo.stderr
    files = sorted(p.name for p in (tmp_path / "data" / "media").rglob("*") if p.is_file())
    assert len(files) == 7 and "Colour Bars.mp4" in files
    scan = run(env, "scan")
    assert scan.returncode == 0, scan.stderr
    assert "added" in scan.stderr and "│ 7 " in scan.stderr
    again = run(env, "scan")
    assert "│ 0 " in again.stderr and "│ 7 " in again.stderr  # nothing added; 7 unchanged


def test_user_create_list_passwd(env: dict[str, str]) -> None:
    made = run(env, "user", "create", "root-admin", "--admin", "--password", "a-long-password")
    assert made.returncode == 0, made.stderr
    listed = run(env, "user", "list")
    assert "root-admin" in listed.stderr and "admin" in listed.stderr
    short = run(env, "user", "passwd", "root-admin", "--password", "short")
    assert short.returncode == 1 and "at least 8" in short.stderr
    changed = run(env, "user", "passwd", "root-admin", "--password", "another-long-one")
    assert changed.returncode == 0, changed.stderr
    missing = run(env, "user", "passwd", "nobody", "--password", "another-long-one")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_db_upgrade_is_idempotent(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    assert run(env, "db", "upgrade").returncode == 0
    current = run(env, "db", "current")
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head and f"{head} (head)" in current.stdout + current.stderr  # at the newest migration
