"""Where a download is, and how often that is told: percent and bytes that never go back, sent at most once
per `DOWNLOAD_PROGRESS_INTERVAL_S` (API.md), measured on a clock the caller gives (tests give their own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass
class Progress:
    """Where the job is, across the items of a playlist and the attempts at each. Neither percent nor
    bytes ever go back: not when a retry starts a file again, nor at the next item (bytes add up over
    the items), nor when another worker takes the download over (`floor`: what the row said then)."""

    items: int = 1
    done: int = 0
    percent: float = 0.0
    floor: int = 0
    fetched: int = 0  # the bytes of the items finished in this run
    item_bytes: int = 0  # the current item's, the most reported so far
    item_total: int | None = None
    speed: float | None = None
    eta: float | None = None
    pending: bool = False  # a change not sent yet (it came within the throttle interval)

    def report(self, message: dict[str, Any]) -> None:
        total = message.get("total") or None
        self.item_bytes = max(self.item_bytes, message["downloaded"])
        self.item_total = max(total, self.item_bytes) if total else self.item_total
        fraction = min(self.item_bytes / self.item_total, 1.0) if self.item_total else 0.0
        self._advance(self.done + fraction)
        self.speed, self.eta = message.get("speed"), message.get("eta")

    def item_finished(self, fetched_bytes: int) -> None:
        """One item done: its real size counts (more than reported, if reports were skipped)."""
        self.fetched += max(fetched_bytes, self.item_bytes)
        self.item_bytes, self.item_total, self.speed, self.eta = 0, None, None, None
        self.done += 1
        self._advance(self.done)

    def downloaded(self) -> int:
        return max(self.floor, self.fetched + self.item_bytes)

    def values(self) -> dict[str, Any]:
        downloaded = self.downloaded()
        if self.item_total is not None:
            total: int | None = max(self.fetched + self.item_total, downloaded)
        elif self.item_bytes:
            total = None  # this file's size is not known (yet)
        else:
            total = downloaded  # between items, or all done: what was fetched is all there is so far
        return {"percent": self.percent, "downloaded_bytes": downloaded, "total_bytes": total or None,
                "speed_bps": self.speed, "eta_s": self.eta, "phase": "downloading"}

    def _advance(self, items_done: float) -> None:
        self.percent = max(self.percent, round(100 * items_done / self.items, 1))
        self.pending = True


class Throttle:
    """At most one send per `interval_s` on `clock`."""

    def __init__(self, interval_s: float, clock: Clock = time.monotonic) -> None:
        self.interval_s, self.clock = interval_s, clock
        self._last: float | None = None

    def wait_s(self) -> float:
        """How long until the next send may go (0: now)."""
        if self._last is None:
            return 0.0
        return max(self._last + self.interval_s - self.clock(), 0.0)

    def sent(self) -> None:
        self._last = self.clock()
