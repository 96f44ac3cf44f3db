"""One server process: the app and Granian's HTTP in the same interpreter (`medianest serve` with one worker).

`medianest serve` prepares (settings checked, demo made, migrations run), then replaces itself with
`python -m medianest.server`: a fresh interpreter that imports only the app and Granian. Granian's own
process model would keep a supervisor beside the worker (about 95 MB here, holding what the preparation
imported: SQLAlchemy, Alembic, typer, rich) - more than half of an idle server's memory. The process keeps
its pid across the exec, so a service manager's or a test's signals still reach the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import uvloop
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server.embed import Server

from medianest import logs
from medianest.asgi import app_factory
from medianest.config import Settings


async def _serve(settings: Settings) -> int:
    server = Server(app_factory, factory=True, interface=Interfaces.ASGI, address=settings.host,
                    port=settings.port, log_level=LogLevels(settings.log_level.lower()),
                    backlog=settings.max_connections, backpressure=settings.max_connections,
                    log_dictconfig=logs.granian_config(settings),
                    log_access=False)  # MEDIANEST_ACCESS_LOG is ours (api/observer.py): it has the request ids
    # Granian warns that its embedded server is experimental; it serves the same Rust HTTP and the same
    # ASGI calls as its workers, and a warning on every start would only alarm the people running it.
    logging.getLogger("_granian").addFilter(lambda record: "is experimental" not in record.getMessage())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()
    # The app ended on its own (its start-up failed, e.g. the database is unreachable): not a clean stop.
    return 1 if server.interrupt_children else 0


def main() -> None:
    settings = Settings()
    logs.configure(settings)
    sys.exit(uvloop.run(_serve(settings)))


if __name__ == "__main__":
    main()
