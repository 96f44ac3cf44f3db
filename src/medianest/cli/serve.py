"""`medianest serve`: run the API (migrations first, then the server; a scan starts with it)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import threading

import structlog
import typer
from granian import Granian
from granian.constants import Interfaces, Loops
from granian.log import LogLevels

from medianest import logs
from medianest.cli.common import console, warn_missing_folders
from medianest.config import Settings
from medianest.db.migrate import upgrade

log = structlog.get_logger(__name__)


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
    logs.configure(settings)  # before the migrations and granian: their lines are rendered like ours
    settings.ensure_dirs()
    settings.secret_key  # noqa: B018 - create the secret once, before several workers race to
    if demo:
        from medianest.cli.demo import make_demo

        make_demo(settings)
    warn_missing_folders(settings)  # after the demo: its folder is not missing
    upgrade(settings.db_url)
    # Workers must not migrate or scan each on their own: this process has migrated, and scans once.
    os.environ["MEDIANEST_MIGRATE_ON_START"] = "false"
    if settings.workers > 1 and settings.scan_on_start:
        os.environ["MEDIANEST_SCAN_ON_START"] = "false"
        threading.Thread(target=_scan_once, args=(settings,), daemon=True).start()
    url = f"http://{settings.host}:{settings.port}"
    if logs.use_json(settings):
        log.info("medianest serving", url=url, docs=f"{url}/api/docs", data_dir=str(settings.data_dir))
    else:
        console.print(f"MediaNest on [bold]{url}[/] (API docs at /api/docs) with data in {settings.data_dir}")
    run_server(settings)


def run_server(settings: Settings) -> None:
    """One worker: this process becomes the server (`medianest/server.py`, which says why). More: Granian's
    supervisor and its worker processes.

    Granian rather than uvicorn (DESIGN allows it where it measures faster): on bench/range_bench.py
    the same app moved about 1.8x the bytes of 1 MiB ranges and served about 1.6x the 4 KiB ranges it
    did on uvicorn with uvloop and httptools - its HTTP layer is Rust. The supervisor stops its workers
    on SIGINT/SIGTERM."""
    if settings.workers == 1:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # what was printed must not die with this image
        # -P: nothing is imported from the folder the server was started in (a stray logging.py there).
        os.execv(sys.executable, [sys.executable, "-P", "-m", "medianest.server"])  # noqa: S606 - our own interpreter
    # It forks workers where that is the platform default; a fork would copy the start-up scan's thread
    # mid-write (its locks and its database connection), so workers start fresh instead.
    multiprocessing.set_start_method("spawn", force=True)
    Granian("medianest.asgi:app_factory", factory=True, interface=Interfaces.ASGI, address=settings.host,
            port=settings.port, workers=settings.workers, loop=Loops.uvloop,
            backlog=settings.max_connections, backpressure=settings.max_connections,
            log_level=LogLevels(settings.log_level.lower()), log_dictconfig=logs.granian_config(settings),
            log_access=False,  # MEDIANEST_ACCESS_LOG is ours (api/observer.py): it has the request ids
            workers_kill_timeout=5).serve()


def _scan_once(settings: Settings) -> None:
    from medianest.cli.scan import _scan

    asyncio.run(_scan(settings))
