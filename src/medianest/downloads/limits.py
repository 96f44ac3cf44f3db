"""The per-user download rate limit (`MEDIANEST_DOWNLOADS_RATE_LIMIT`, default 5/hour), on `limits`:
a moving window kept in memory, or in Redis when configured so every API instance counts together."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from medianest.config import Settings
from medianest.errors import RateLimited


class DownloadLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self.item: RateLimitItem = parse(settings.downloads_rate_limit)
        storage: Storage = (RedisStorage(f"async+{settings.redis_url}", implementation="redispy")
                            if settings.redis_url else MemoryStorage())
        self.limiter = MovingWindowRateLimiter(storage)

    async def hit(self, user_id: int) -> None:
        """Count one download for the user, or raise `RateLimited` with when to try again."""
        if not self.enabled or await self.limiter.hit(self.item, "downloads", str(user_id)):
            return
        stats = await self.limiter.get_window_stats(self.item, "downloads", str(user_id))
        raise RateLimited("downloads", max(1, math.ceil(stats.reset_time - time.time())))
