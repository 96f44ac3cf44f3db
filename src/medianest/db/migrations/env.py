"""Alembic environment: runs migrations on the async engine given in the config attributes."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.db.engine import create_engine
from medianest.db.models import Base

config = context.config
target_metadata = Base.metadata


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # The search index (FTS5 tables, the tsvector index) is made by raw SQL in the migration.
    return not (name or "").startswith(("media_fts", "ix_media_search"))


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table: copy, DROP, rename. With foreign keys on, that DROP would
        # cascade-delete every row pointing at the table. Off for the migration (it only takes effect
        # outside a transaction, hence first), then the references are checked before anything commits.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows pointing at nothing: {broken[:5]}")


async def _run_async() -> None:
    engine: AsyncEngine | None = config.attributes.get("engine")
    owned = engine is None
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # in case the engine is pooled elsewhere
    if owned:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
