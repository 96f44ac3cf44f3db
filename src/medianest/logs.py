"""Logging: one renderer for every line on stderr - ours (structlog) and every library's (granian, huey,
alembic, httpx...) through the standard `logging` module and structlog's `ProcessorFormatter`.

When stderr is not a terminal (a service manager, a container, a pipe), in production, or with
MEDIANEST_LOG_FORMAT=json, each line is one JSON object with `timestamp`, `level`, `event` and `logger`
(and `request_id` inside a request); in a terminal the lines are structlog's readable ones.

granian configures `logging` itself in its supervisor and in each worker before our app exists: it is
handed `granian_config(settings)` as its `log_dictconfig`, which installs the same handler and formatter,
so its own lines ("Listening at", "Spawning worker"...) are rendered like ours from the first one on.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.typing import Processor

from medianest.config import Settings
from medianest.context import request_id

# The access log's logger (api/observer.py writes it when MEDIANEST_ACCESS_LOG is on).
ACCESS_LOGGER = "medianest.access"

# Libraries that say something at INFO for every call or job: their warnings and errors are kept, their
# chatter only at DEBUG (httpx would log every outgoing request, huey every periodic job it runs, alembic
# each of its plugins whenever a process imports it).
_CHATTY = ("httpx", "httpcore", "huey", "alembic.runtime.plugins")


def _request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    rid = request_id.get()
    if rid:
        event.setdefault("request_id", rid)
    return event


def use_json(settings: Settings) -> bool:
    return settings.log_format == "json" or (
        settings.log_format == "auto" and (settings.env == "production" or not sys.stderr.isatty()))


def _level(settings: Settings) -> int:
    return logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)


def _chatty_level(level: int) -> int:
    return level if level <= logging.DEBUG else max(level, logging.WARNING)


def _shared() -> list[Processor]:
    """What every line gets, whether it came through structlog or straight through `logging`."""
    return [structlog.contextvars.merge_contextvars, _request_id, structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name, structlog.processors.TimeStamper(fmt="iso", utc=True)]


# Plain tracebacks, as Python prints them. structlog's default is rich's, with each frame's local
# variables: they may hold passwords, tokens and whole request bodies, and laying out one error took
# about 10 s with a 10,000-entry playlist in a local (2 s without locals, for the highlighted source) -
# on the event loop, which serves nobody meanwhile.
_TRACEBACKS = structlog.dev.plain_traceback


def formatter(as_json: bool) -> ProcessorFormatter:
    """The formatter of the one handler; also built by name from granian's dictConfig."""
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()] if as_json
        else [structlog.dev.ConsoleRenderer(exception_formatter=_TRACEBACKS)])
    return ProcessorFormatter(foreign_pre_chain=_shared(),
                              processors=[ProcessorFormatter.remove_processors_meta, *renderer])


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (a test's capture, a redirect made after start-up),
    and marks the handler `configure` owns, so configuring again replaces it instead of adding one."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure(settings: Settings) -> None:
    """Set up structlog and the root logger for this process; safe to call again (tests build many apps)."""
    level = _level(settings)
    structlog.configure(
        processors=[*_shared(), ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.setFormatter(formatter(use_json(settings)))
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(_chatty_level(level))
    # Turned on, the access log is written whatever the level (it is asked for by its own setting).
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
    logging.captureWarnings(True)  # Python's warnings become log lines too, not bare text on stderr


def granian_config(settings: Settings) -> dict[str, Any]:
    """granian's `log_dictconfig` (it replaces granian's own sections, which write plain text to stdout):
    its loggers go to the root logger, which gets our handler in the supervisor and in every worker."""
    level = _level(settings)
    # A worker imports the app (and alembic) before the app configures anything: the quiet ones are set here too.
    quiet = {name: {"level": logging.getLevelName(_chatty_level(level))} for name in _CHATTY}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"medianest": {"()": "medianest.logs.formatter", "as_json": use_json(settings)}},
        "handlers": {"stderr": {"()": "medianest.logs.StderrHandler", "formatter": "medianest"}},
        "root": {"handlers": ["stderr"], "level": logging.getLevelName(level)},
        "loggers": {"_granian": {"handlers": [], "propagate": True},
                    "granian.access": {"handlers": [], "propagate": True}, **quiet},
    }
