"""The Argon2 cost comes from Settings: production keeps argon2-cffi's defaults (the tests run cheaper ones,
tests.conftest.CHEAP_PASSWORDS), and a hash made at any cost keeps verifying after the cost changes."""

from __future__ import annotations

import inspect
from pathlib import Path

import argon2
import pytest
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select

from medianest.accounts.models import User
from medianest.accounts.passwords import Passwords
from medianest.config import Settings
from medianest.db.engine import create_engine, create_session_factory
from tests.conftest import CHEAP_PASSWORDS, PASSWORD, Api

COST_FIELDS = {"password_hash_time_cost": "time_cost", "password_hash_memory_kib": "memory_cost",
               "password_hash_parallelism": "parallelism"}


def _cost(password_hash: str) -> dict[str, int]:
    params = argon2.extract_parameters(password_hash)
    return {"time_cost": params.time_cost, "memory_cost": params.memory_cost, "parallelism": params.parallelism}


async def test_production_settings_hash_at_the_libraries_default_cost(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COST_FIELDS:
        monkeypatch.delenv(f"MEDIANEST_{name.upper()}", raising=False)
    settings = Settings(data_dir=tmp_path, env="production", cors_origins="")
    hasher_defaults = {name: p.default for name, p in inspect.signature(Argon2Hasher).parameters.items()}
    assert {lib: getattr(settings, field) for field, lib in COST_FIELDS.items()} == \
        {lib: hasher_defaults[lib] for lib in COST_FIELDS.values()}
    made = await Passwords.from_settings(settings).hash(PASSWORD)
    defaults = argon2.profiles.get_default_parameters()
    assert _cost(made) == {"time_cost": defaults.time_cost, "memory_cost": defaults.memory_cost,
                           "parallelism": defaults.parallelism}
    assert made.startswith("$argon2id$")


async def test_hashes_made_at_another_cost_keep_verifying(tmp_path: Path) -> None:
    cheap = Passwords.from_settings(Settings(data_dir=tmp_path, **CHEAP_PASSWORDS))
    default = Passwords.from_settings(Settings(data_dir=tmp_path, password_hash_time_cost=argon2.DEFAULT_TIME_COST,
                                               password_hash_memory_kib=argon2.DEFAULT_MEMORY_COST,
                                               password_hash_parallelism=argon2.DEFAULT_PARALLELISM))
    other = Passwords(time_cost=2, memory_kib=64, parallelism=2)
    hashes = [await p.hash(PASSWORD) for p in (cheap, default, other)]
    assert len({h.split("$")[3] for h in hashes}) == 3  # three different m=,t=,p= settings
    for checker in (cheap, default, other):
        for made in hashes:
            assert await checker.verify(PASSWORD, made)
            assert not await checker.verify("not-the-password", made)
    assert not await cheap.verify(PASSWORD, None)  # the password-less account: refused, after a hash's work


async def test_the_app_hashes_at_the_configured_cost(api: Api, settings: Settings) -> None:
    """The cost reaches the app: the fixture's Settings (the cheap test cost) is what the stored hash records,
    and a user whose hash was made at production cost still signs in."""
    await api.setup_admin()
    async with api.app.state.parts.sessions() as session:
        admin = await session.scalar(select(User))
        assert admin is not None and admin.password_hash is not None
        assert _cost(admin.password_hash) == {lib: CHEAP_PASSWORDS[field] for field, lib in COST_FIELDS.items()}
        admin.password_hash = argon2.PasswordHasher().hash(PASSWORD)  # argon2-cffi's default cost
        await session.commit()
    assert await api.login("admin")


async def test_a_session_without_passwords_says_so(settings: Settings) -> None:
    engine = create_engine(settings.db_url)
    try:
        async with create_session_factory(engine)() as session:
            with pytest.raises(RuntimeError, match="no Passwords"):
                Passwords.of(session)
    finally:
        await engine.dispose()
