"""The console log (a terminal): an error's traceback shows where it happened, never the values of the
frames' local variables (a password, a token, a whole request body)."""

from __future__ import annotations

import logging
import sys

from medianest.logs import formatter


def _fails_holding_a_secret() -> None:
    password = "hunter2-" + "x" * 10_000  # noqa: F841 - a local a traceback must not show
    raise ValueError("boom")


def test_a_console_traceback_has_the_frames_and_no_locals() -> None:
    try:
        _fails_holding_a_secret()
    except ValueError:
        record = logging.LogRecord("medianest.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    text = formatter(as_json=False).format(record)
    assert "_fails_holding_a_secret" in text and "ValueError: boom" in text
    assert "hunter2" not in text
