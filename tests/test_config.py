"""Settings: the exact environment variable names of the contract, and the generated secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from medianest.config import Settings


def test_contract_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {"DATA_DIR": str(tmp_path), "MEDIA_DIRS": f"{tmp_path}/a:{tmp_path}/b", "HOST": "192.0.2.1",
              "PORT": "9000", "DATABASE_URL": "postgresql+asyncpg://u@h/db", "REDIS_URL": "redis://h:6379/0",
              "ENV": "production", "DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true",
              "PLEX_TV_URL": "http://127.0.0.1:9", "RATE_LIMITS_ENABLED": "false",
              "CORS_ORIGINS": "https://media.example.org, https://app.example.org"}
    for key, value in values.items():
        monkeypatch.setenv(f"MEDIANEST_{key}", value)
    s = Settings()
    assert s.library_dirs == [tmp_path / "a", tmp_path / "b"]
    assert (s.host, s.port, s.db_url, s.redis_url, s.env) == (
        "192.0.2.1", 9000, "postgresql+asyncpg://u@h/db", "redis://h:6379/0", "production")
    assert s.downloads_allow_private_networks is True and s.rate_limits_enabled is False
    assert s.plex_tv_url == "http://127.0.0.1:9"
    assert s.cors_origins == ["https://media.example.org", "https://app.example.org"]


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEDIANEST_DATA_DIR", str(tmp_path))
    s = Settings()
    assert (s.host, s.port, s.env) == ("127.0.0.1", 8080, "development")
    assert s.library_dirs == [tmp_path / "media"]
    assert s.db_url == f"sqlite+aiosqlite:///{tmp_path / 'medianest.db'}"


def test_secret_is_generated_once_private_and_stable(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).secret_key
    path = tmp_path / "secret.key"
    assert len(first) >= 48 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path).secret_key == first
    assert Settings(data_dir=tmp_path / "other").secret_key != first
