"""Helpers shared by CLI commands: settings, a DB session factory, running a coroutine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console

from medianest.config import Settings
from medianest.db.engine import SessionFactory, create_engine, create_session_factory
from medianest.db.migrate import upgrade_async

console = Console(stderr=True)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[SessionFactory]:
    """A migrated database for a one-off command."""
    settings.ensure_dirs()
    await upgrade_async(settings.db_url)
    engine = create_engine(settings.db_url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()
