"""`medianest serve`: run the API (migrations first, then the server; a scan starts with it)."""

from __future__ import annotations

import asyncio
import os
import threading

import typer
import uvicorn

from medianest.cli.common import console
from medianest.config import Settings
from medianest.db.migrate import upgrade


def serve(
    host: str | None = typer.Option(None, help="listen address [env MEDIANEST_HOST, default 127.0.0.1]"),
    port: int | None = typer.Option(None, help="port [env MEDIANEST_PORT, default 8080]"),
    workers: int | None = typer.Option(None, help="server processes [env MEDIANEST_WORKERS, default 1]"),
    demo: bool = typer.Option(False, "--demo", help="generate demo media first"),
) -> None:
    """Start the server on the configured database and media folders."""
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"MEDIANEST_{name}"] = str(value)
    settings = Settings()
    settings.ensure_dirs()
    settings.secret_key  # noqa: B018 - create the secret once, before several workers race to
    if demo:
        from medianest.cli.demo import make_demo

        make_demo(settings)
    upgrade(settings.db_url)
    # Workers must not migrate or scan each on their own: this process has migrated, and scans once.
    os.environ["MEDIANEST_MIGRATE_ON_START"] = "false"
    if settings.workers > 1 and settings.scan_on_start:
        os.environ["MEDIANEST_SCAN_ON_START"] = "false"
        threading.Thread(target=_scan_once, args=(settings,), daemon=True).start()
    console.print(f"MediaNest on [bold]http://{settings.host}:{settings.port}[/] "
                  f"(API docs at /api/docs) with data in {settings.data_dir}")
    uvicorn.run("medianest.asgi:app_factory", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, loop="uvloop", http="httptools", access_log=False,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=5)


def _scan_once(settings: Settings) -> None:
    from medianest.cli.scan import _scan

    asyncio.run(_scan(settings))
