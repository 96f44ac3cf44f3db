"""A real `medianest serve` process on 127.0.0.1 with a generated library, shared by this folder's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.liveserver import LiveServer, serve

__all__ = ["LiveServer", "live_server"]  # the tests here import LiveServer from this module


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, media_source: tuple[Path, dict[str, str]],
                ) -> Iterator[LiveServer]:
    # Fuzzed download URLs must never make the server look up or fetch a real host: only localhost passes
    # the allow-list (no DNS), and then is refused as a private address.
    with serve(tmp_path_factory.mktemp("live"), media_source[0],
               extra_env={"MEDIANEST_DOWNLOADS_ALLOWED_SITES": "localhost"}) as server:
        yield server
