"""`medianest db upgrade|current`: database migrations."""

from __future__ import annotations

import typer

from medianest.cli.common import console
from medianest.config import Settings
from medianest.db import migrate

app = typer.Typer(no_args_is_help=True, help="Database migrations (Alembic).")


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = Settings()
    settings.ensure_dirs()
    migrate.upgrade(settings.db_url, revision)
    console.print(f"[green]database is at {revision}[/]")


@app.command()
def current() -> None:
    """Show the database's migration revision."""
    settings = Settings()
    sqlite_file = settings.data_dir / "medianest.db"
    if settings.is_sqlite and not settings.database_url and not sqlite_file.exists():
        # Alembic would try to create the file in a missing folder and print a traceback.
        console.print(f"no database yet at {sqlite_file}; `medianest db upgrade` or `medianest serve` creates it")
        raise typer.Exit(1)
    migrate.current(settings.db_url)
