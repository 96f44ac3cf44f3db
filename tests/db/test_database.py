"""The database: migrations match the models on both backends, SQLite runs in WAL with foreign keys."""

from __future__ import annotations

import asyncio

from alembic import command
from fastapi import FastAPI
from sqlalchemy import text

from medianest.config import Settings
from medianest.db.migrate import alembic_config


async def test_migrations_match_the_models(app: FastAPI, settings: Settings) -> None:
    # Raises if autogenerate would emit anything: a model changed without a migration.
    await asyncio.to_thread(command.check, alembic_config(settings.db_url))


async def test_sqlite_runs_in_wal_with_foreign_keys(app: FastAPI, settings: Settings) -> None:
    async with app.state.sessions() as session:
        if not settings.is_sqlite:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
            return
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_migrations_downgrade_and_upgrade_cleanly(app: FastAPI, settings: Settings) -> None:
    await app.state.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "base")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    await asyncio.to_thread(command.check, cfg)
