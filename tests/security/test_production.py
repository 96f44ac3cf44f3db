"""Production mode refuses a guessable secret and CORS left unset - in Settings and at `medianest serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from medianest.config import Settings

STRONG = "k3Jq9-vT0xWm2LrB8nYc4HsA7dPe1GfZ6uQo5iK"


def test_production_needs_cors_origins_set_explicitly(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="MEDIANEST_CORS_ORIGINS must be set"):
        Settings(data_dir=tmp_path, env="production")
    assert Settings(data_dir=tmp_path, env="production", cors_origins="").cors_origins == []
    assert Settings(data_dir=tmp_path, env="development").cors_origins == []


@pytest.mark.parametrize("weak", ["changeme", "secret", "a" * 64, "abcabcabcabcabcabcabcabcabcabcabcabc", "short1!"])
def test_production_refuses_a_weak_configured_secret(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ValidationError, match="MEDIANEST_SECRET is too"):
        Settings(data_dir=tmp_path, env="production", cors_origins="", secret=weak)
    assert Settings(data_dir=tmp_path, env="development", secret=weak).secret_key == weak  # fine on a laptop
    assert Settings(data_dir=tmp_path, env="production", cors_origins="", secret=STRONG).secret_key == STRONG


def test_production_refuses_a_weak_secret_file(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("changeme\n")
    with pytest.raises(ValueError, match=r"secret\.key is too short"):
        _ = Settings(data_dir=tmp_path, env="production", cors_origins="").secret_key
    generated = tmp_path / "fresh"
    assert len(Settings(data_dir=generated, env="production", cors_origins="").secret_key) >= 48


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    clean |= {"MEDIANEST_DATA_DIR": str(tmp_path / "data"), "MEDIANEST_PORT": "9", "MEDIANEST_ENV": "production",
              **{f"MEDIANEST_{k}": v for k, v in env.items()}}
    return subprocess.run([sys.executable, "-m", "medianest", "serve"], env=clean, capture_output=True, text=True,
                          timeout=60)


def test_serve_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    done = _serve(tmp_path, SECRET="changeme", CORS_ORIGINS="")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "MEDIANEST_SECRET" in done.stderr and "too short" in done.stderr
    done = _serve(tmp_path, SECRET=STRONG)
    assert done.returncode == 2 and "MEDIANEST_CORS_ORIGINS must be set" in done.stderr
    assert not (tmp_path / "data" / "medianest.db").exists()  # refused before touching anything
