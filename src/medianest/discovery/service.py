"""`RemoteSearch`: words -> videos from the configured sites, cached briefly, degrading to the sites that
answer.

- One site asked (`site`): its page; when it fails (down, slow, garbage, its breaker open, turned off here)
  the other sites' page instead, with a notice saying which site failed and why.
- No site asked: every configured site at once, their results interleaved (first of each, second of
  each...), with a notice for any that failed.
- Nothing answered: UpstreamUnavailable (503), naming each site's failure.

Each site's page is cached for `search_cache_ttl_s` under (site, words, page, limit). A search that needs
to reach a site counts against the caller's `remote_search` rate limit; one answered from cache does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from itertools import chain, zip_longest

import httpx

from medianest.config import Settings
from medianest.discovery.dailymotion import Dailymotion
from medianest.discovery.providers import SITES, Found, Provider, Result, Site
from medianest.discovery.youtube import YouTube
from medianest.errors import DomainError, UpstreamUnavailable
from medianest.integrations.cache import StaleCache
from medianest.integrations.http import Breaker, Policy, Upstream
from medianest.security.limits import RateLimits
from medianest.text import clean_line

NAMES: dict[Site, str] = {"youtube": YouTube.name, "dailymotion": Dailymotion.name}
SERVICE = "Remote search"
SearchCache = StaleCache[Found]


@dataclass(frozen=True)
class Failed:
    """A site that gave no results, and why (`code` is the domain error's: UNAVAILABLE, UPSTREAM_ERROR...)."""

    site: Site
    code: str
    message: str


@dataclass(frozen=True)
class Outcome:
    results: list[Result]
    has_more: bool
    sites: list[Site]  # the sites that answered, in the order their results interleave
    failed: list[Failed]
    notice: str | None  # for a person: which site failed and what is shown instead


class RemoteSearch:
    def __init__(self, providers: dict[Site, Provider], cache: SearchCache, limits: RateLimits) -> None:
        self.providers, self.cache, self.limits = providers, cache, limits

    async def search(self, user_key: str, query: str, site: Site | None, page: int, limit: int) -> Outcome:
        """`user_key` is whom the rate limit counts against. Words are what `query` holds between spaces,
        control characters left out; no words find nothing, without asking any site."""
        words = " ".join(clean_line(query).split())
        if not words:
            return Outcome([], has_more=False, sites=[], failed=[], notice=None)
        if not self.providers:
            raise UpstreamUnavailable(SERVICE, "turned off on this server (MEDIANEST_REMOTE_SEARCH_SITES is empty)")
        asked: list[Site] = [site] if site else list(self.providers)
        await self._count(user_key, [s for s in asked if s in self.providers], words, page, limit)
        found, failed = await self._ask(asked, words, page, limit)
        if site and not found:  # the one site asked for failed: the others stand in (uncounted: one search)
            found, more_failed = await self._ask([s for s in self.providers if s != site], words, page, limit)
            failed += more_failed
        if not found:
            error = UpstreamUnavailable(SERVICE, "unavailable: " + "; ".join(f.message for f in failed))
            error.details["failed"] = [{"site": f.site, "code": f.code, "message": f.message} for f in failed]
            raise error
        return Outcome(interleave(f.results for f in found.values()), any(f.has_more for f in found.values()),
                       list(found), failed, _notice(failed, list(found)))

    async def _count(self, user_key: str, sites: list[Site], words: str, page: int, limit: int) -> None:
        if any(self.cache.fresh(_key(s, words, page, limit)) is None for s in sites):
            await self.limits.hit("remote_search", user_key, "remote searches")

    async def _ask(self, sites: list[Site], words: str, page: int, limit: int,
                   ) -> tuple[dict[Site, Found], list[Failed]]:
        """Every site at once; each one's page, or why it gave none (sites keep their order)."""
        answers = await asyncio.gather(*(self._one(s, words, page, limit) for s in sites))
        found = {s: a for s, a in zip(sites, answers, strict=True) if isinstance(a, Found)}
        return found, [a for a in answers if isinstance(a, Failed)]

    async def _one(self, site: Site, words: str, page: int, limit: int) -> Found | Failed:
        provider = self.providers.get(site)
        if provider is None:
            return Failed(site, UpstreamUnavailable.code, f"{NAMES[site]} search is turned off on this server")
        key = _key(site, words, page, limit)
        cached = self.cache.fresh(key)
        if cached is not None:
            return cached
        try:
            found = await provider.search(words, page, limit)
        except DomainError as exc:
            return Failed(site, exc.code, exc.message)
        self.cache.put(key, found)
        return found


def interleave(pages: Iterable[list[Result]]) -> list[Result]:
    """The first result of each page, then the second of each, and so on."""
    return [r for r in chain.from_iterable(zip_longest(*pages)) if r is not None]


def _key(site: Site, words: str, page: int, limit: int) -> Hashable:
    return site, words.casefold(), page, limit


def _notice(failed: list[Failed], answered: list[Site]) -> str | None:
    if not failed:
        return None
    shown = " and ".join(NAMES[s] for s in answered)
    return f"{'; '.join(f.message for f in failed)}. Showing results from {shown} only."


def remote_search(settings: Settings, http: httpx.AsyncClient, limits: RateLimits) -> RemoteSearch:
    """The sites `remote_search_sites` names, each with its own circuit breaker. A Dailymotion call is
    tried twice at most, each try bounded by `remote_search_timeout_s`: a user is waiting."""
    def breaker() -> Breaker:
        return Breaker(settings.breaker_threshold, settings.breaker_cooldown_s)

    policy = Policy(settings.remote_search_timeout_s, min(2, settings.integrations_attempts),
                    settings.integrations_retry_wait_s)
    makers: dict[Site, Callable[[], Provider]] = {
        "youtube": lambda: YouTube(breaker(), 2 * settings.remote_search_timeout_s,
                                   settings.downloads_allow_private_networks),
        "dailymotion": lambda: Dailymotion(Upstream(http, Dailymotion.name, settings.dailymotion_api_url, breaker(),
                                                    policy, {"Accept": "application/json"})),
    }
    providers: dict[Site, Provider] = {s: makers[s]() for s in SITES if s in settings.remote_search_sites}
    return RemoteSearch(providers, StaleCache(settings.search_cache_ttl_s), limits)
