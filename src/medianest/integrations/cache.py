"""`StaleCache`: answers kept fresh for `ttl_s`, and kept longer as a fallback for when the service that
gave them is down (stale search results beat an error page)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class StaleCache(Generic[V]):
    def __init__(self, ttl_s: float, keep_s: float = 24 * 3600, max_entries: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.keep_s, self.max_entries, self.clock = ttl_s, keep_s, max_entries, clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def fresh(self, key: Hashable) -> V | None:
        return self._get(key, self.ttl_s)

    def stale(self, key: Hashable) -> V | None:
        """The last answer for `key`, however old (within `keep_s`): for when a fresh one cannot be had."""
        return self._get(key, self.keep_s)

    def put(self, key: Hashable, value: V) -> None:
        self._entries[key] = (self.clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def _get(self, key: Hashable, max_age_s: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None or self.clock() - entry[0] > max_age_s:
            return None
        self._entries.move_to_end(key)
        return entry[1]
