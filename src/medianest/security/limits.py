"""`RateLimits`: every rate limit of the server on the `limits` library, in one place.

Moving windows (no burst at a window edge), kept in memory, or in Redis when `MEDIANEST_REDIS_URL`
is set so that all API instances count together. Each rule is a setting (`"100/minute"` syntax):

    api        per user, every authenticated API call (media bytes are not counted: a player seeking
               through a film makes dozens of range requests a minute)
    auth       per client IP and per account name, failed sign-ins and other unauthenticated auth calls
    downloads  per user, queued downloads
    requests   per user, media requests sent to Seerr
    remote_search  per user, searches of other sites (YouTube, Dailymotion) that are not answered from cache
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from medianest.config import Settings
from medianest.errors import RateLimited


@dataclass(frozen=True)
class Window:
    """Where a caller stands in one rule: the numbers behind the `RateLimit-*` headers."""

    limit: int
    remaining: int
    reset_s: int
    window_s: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"ratelimit-limit", b"%d" % self.limit), (b"ratelimit-remaining", b"%d" % self.remaining),
                (b"ratelimit-reset", b"%d" % self.reset_s),
                (b"ratelimit-policy", b"%d;w=%d" % (self.limit, self.window_s))]


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.rules: dict[str, RateLimitItem] = {
            "api": parse(settings.api_rate_limit), "auth": parse(settings.auth_rate_limit),
            "downloads": parse(settings.downloads_rate_limit), "requests": parse(settings.requests_rate_limit),
            "remote_search": parse(settings.remote_search_rate_limit),
        }
        self.limiter = MovingWindowRateLimiter(_storage(settings))

    async def hit(self, rule: str, key: str, what: str | None = None) -> Window | None:
        """Count one event; raise `RateLimited` (nothing counted) when the window is full."""
        if not self.enabled:
            return None
        item = self.rules[rule]
        if not await self.limiter.hit(item, rule, key):
            raise self._refusal(rule, await self.window(rule, key), what)
        return await self.window(rule, key)

    async def count(self, rule: str, key: str) -> None:
        """Count one event, never refusing (for counting failures after the fact)."""
        if self.enabled:
            await self.limiter.hit(self.rules[rule], rule, key)

    async def check(self, rule: str, key: str, what: str | None = None) -> None:
        """Raise `RateLimited` when the window is already full, without counting anything."""
        if self.enabled and not await self.limiter.test(self.rules[rule], rule, key):
            raise self._refusal(rule, await self.window(rule, key), what)

    async def window(self, rule: str, key: str) -> Window:
        item = self.rules[rule]
        stats = await self.limiter.get_window_stats(item, rule, key)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return Window(item.amount, stats.remaining, reset, item.get_expiry())

    def _refusal(self, rule: str, window: Window, what: str | None) -> RateLimited:
        return RateLimited(what or f"{rule} calls", window.reset_s, headers=window.headers())


def _storage(settings: Settings) -> Storage:
    if not settings.redis_url:
        return MemoryStorage()
    # The queue name keeps two installations (or test runs) on one Redis from sharing counters.
    return RedisStorage(f"async+{settings.redis_url}", implementation="redispy",
                        key_prefix=f"{settings.queue_name}:limits")
