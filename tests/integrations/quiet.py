"""Fixtures for tests of the integrations through the app: import them into a test module
(`from tests.integrations.quiet import overrides, settings`).

`settings` is the suite's, with no backoff waits, the API rate limit out of the way, and no queue
consumer: its periodic jobs (status checks, request sync, Plex refreshes) would otherwise call the
stand-ins behind a test's back and race what the test runs itself. A test changes more by
parametrizing `overrides`.
"""

from __future__ import annotations

from typing import Any

import pytest

from medianest.config import Settings

QUIET = {"integrations_retry_wait_s": 0, "queue_consumer": "off", "api_rate_limit": "100000/minute"}


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test changes (parametrize `overrides` to set them)."""
    return {}


@pytest.fixture
def settings(settings: Settings, overrides: dict[str, Any]) -> Settings:
    return settings.model_copy(update={**QUIET, **overrides})
