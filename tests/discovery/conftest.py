"""Fixtures of the remote search tests: the Dailymotion stand-in and YouTube's search made offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.discovery.dailymotion import Dailymotion
from tests.discovery.youtube import FakeYouTube, install


@pytest.fixture
def dailymotion() -> Iterator[Dailymotion]:
    with Dailymotion() as server:
        yield server


@pytest.fixture
def youtube(monkeypatch: pytest.MonkeyPatch) -> FakeYouTube:
    return install(monkeypatch)
