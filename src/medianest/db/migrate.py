"""Apply Alembic migrations programmatically (at start-up and from `medianest db upgrade`).

Alembic is imported when a migration runs, not with this module: a server's workers, which never migrate
(their parent did), do not carry it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking: migrate the database at `url` to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    # env.py runs its own event loop, so Alembic goes to a worker thread.
    await asyncio.to_thread(upgrade, url)


def current(url: str) -> None:
    from alembic import command

    command.current(alembic_config(url), verbose=True)
