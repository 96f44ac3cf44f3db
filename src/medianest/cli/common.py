"""Helpers shared by CLI commands: settings, a DB session factory, warnings about media folders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console
from rich.markup import escape

from medianest import logs
from medianest.accounts.passwords import Passwords
from medianest.config import Settings
from medianest.db.engine import SessionFactory, create_engine, create_session_factory
from medianest.db.migrate import upgrade_async
from medianest.library.folders import warn_offline_roots

console = Console(stderr=True)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[SessionFactory]:
    """A migrated database for a one-off command (the data dir is created if need be; configured media
    folders never are)."""
    settings.ensure_dirs()
    await upgrade_async(settings.db_url)
    engine = create_engine(settings.db_url)
    try:
        yield Passwords.from_settings(settings).attach(create_session_factory(engine))
    finally:
        await engine.dispose()


def warn_missing_folders(settings: Settings) -> None:
    """A console line (besides the log warning) for each configured media folder missing or unreadable;
    off a terminal, where logs are JSON lines, the log warning alone."""
    problems = warn_offline_roots(settings.library_dirs)
    if logs.use_json(settings):
        return
    for root, why in problems:
        console.print(f"[yellow]warning:[/] media folder {escape(str(root))} is {escape(why)}; it is not "
                      "created, and the items indexed from it are kept (check MEDIANEST_MEDIA_DIRS)")
