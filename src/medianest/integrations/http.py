"""The one outgoing HTTP client of a process: shared connection pool, bounded time, no redirects to
wherever a service points (a redirect from a configured service must not reach elsewhere)."""

from __future__ import annotations

import httpx

from medianest import __version__
from medianest.config import Settings


def http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.plex_timeout_s, connect=5.0), follow_redirects=False,
                             headers={"User-Agent": f"MediaNest/{__version__}"},
                             limits=httpx.Limits(max_connections=50, max_keepalive_connections=10))
