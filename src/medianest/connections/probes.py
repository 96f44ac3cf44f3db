"""How each kind of connection is checked, and what counts as up, degraded or down.

up: the probe succeeded. degraded: it answered, but slowly or refusing our credentials (the service
runs; we cannot use it fully). down: unreachable, too slow, broken, or our breaker is open.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from medianest.connections.clients import Integrations, kuma_slug
from medianest.connections.models import DEGRADED, DOWN, UP, ServiceConfig
from medianest.errors import DomainError
from medianest.integrations.http import CredentialsRefused

# An answer slower than this works, but a person would notice the wait.
SLOW_MS = 2000.0


@dataclass(frozen=True)
class Probe:
    status: str
    response_ms: float | None
    detail: str


async def probe(integrations: Integrations, config: ServiceConfig, thorough: bool = False) -> Probe:
    """Check one connection; `thorough` (the admin's test button) also proves the credentials work."""
    start = time.perf_counter()
    try:
        detail = await PROBES[config.kind](integrations, config, thorough)
    except CredentialsRefused as exc:
        return Probe(DEGRADED, _ms(start), exc.message)
    except DomainError as exc:
        return Probe(DOWN, None, exc.message)
    ms = _ms(start)
    return Probe(DEGRADED if ms > SLOW_MS else UP, ms, detail)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


async def _plex(integrations: Integrations, config: ServiceConfig, thorough: bool) -> str:
    client = integrations.plex(config)
    identity = await client.identity()
    detail = f"Plex Media Server {identity.get('version', '?')}"
    if thorough:  # /identity needs no token; the libraries do
        libraries = await client.libraries()
        detail += f", {len(libraries)} libraries: " + ", ".join(lib.title for lib in libraries)
    return detail


async def _seerr(integrations: Integrations, config: ServiceConfig, thorough: bool) -> str:
    client = integrations.seerr(config)
    status = await client.status()
    if thorough:  # the status needs no key; a search does
        await client.search("test", 1)
    return f"Seerr {status.get('version', '?')}"


async def _kuma(integrations: Integrations, config: ServiceConfig, thorough: bool) -> str:
    monitors = await integrations.kuma(config).monitors(kuma_slug(config))
    return f"status page {kuma_slug(config)!r}: {len(monitors)} monitors"


async def _opensubtitles(integrations: Integrations, config: ServiceConfig, thorough: bool) -> str:
    client = integrations.opensubtitles(config)
    await client.formats()
    if thorough and client.username:
        await client.login()
        return f"OpenSubtitles reachable, signed in as {client.username}"
    return "OpenSubtitles reachable"


async def _google_tts(integrations: Integrations, config: ServiceConfig, thorough: bool) -> str:
    voices = await integrations.google_tts(config).voices()  # needs the key: a wrong one is refused
    return f"Google Cloud Text-to-Speech: {len(voices)} voices"


async def _generic(integrations: Integrations, config: ServiceConfig, thorough: bool) -> str:
    upstream = integrations.upstream(config, _bearer(integrations, config))
    response = await upstream.request("GET", "")
    upstream.check(response)
    return f"HTTP {response.status_code}"


def _bearer(integrations: Integrations, config: ServiceConfig) -> dict[str, str]:
    secret = integrations.credentials(config).get("secret")
    return {"Authorization": f"Bearer {secret}"} if secret else {}


PROBES: dict[str, Callable[[Integrations, ServiceConfig, bool], Awaitable[str]]] = {
    "plex": _plex, "seerr": _seerr, "uptime_kuma": _kuma, "opensubtitles": _opensubtitles, "google_tts": _google_tts,
    "generic_http": _generic,
}
