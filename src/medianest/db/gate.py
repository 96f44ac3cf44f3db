"""One write transaction at a time per SQLite file in this process, first come, first served.

SQLite lets one connection write at a time. Left to itself, a connection that finds the write lock taken
naps and tries again (its busy handler sleeps 1, 2, 5, ... then 100 ms at a time), so under load the lock
sits free while the waiters nap, and whoever wakes at the right moment wins: with 20 clients the slowest
writes waited seconds (bench/load_bench.py). Writers queue here instead and get the lock in arrival order
the moment it is let go.

The waiting is done by each connection's own thread (aiosqlite runs one per connection), inside the trip
that carries the transaction's first write (db/driver.py): no event loop is involved, so writers from
every loop of the process (the server's, huey's job threads', the migrations') share one queue, and the
next writer starts the moment the last one's COMMIT returns instead of a loop turn later. Other processes
(`medianest scan`, `medianest worker`) still meet this one at SQLite's busy handler.
"""

from __future__ import annotations

import os
import threading
from collections import deque


class WriteGate:
    """A fair lock: the longest waiter gets it as it is released."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._taken = False
        self._queue: deque[threading.Event] = deque()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def acquire(self, timeout_s: float) -> bool:
        """True once the caller holds the gate; False when its turn did not come within `timeout_s`."""
        with self._mutex:
            if not self._taken:
                self._taken = True
                return True
            turn = threading.Event()
            self._queue.append(turn)
        if turn.wait(timeout_s):
            return True
        with self._mutex:
            if turn in self._queue:
                self._queue.remove(turn)
                return False
        return True  # handed over just as the wait ran out: it is the caller's after all

    def try_acquire(self) -> bool:
        """Take the gate only if it is free and nobody is waiting (never ahead of the queue)."""
        with self._mutex:
            if self._taken:
                return False
            self._taken = True
            return True

    def release(self) -> None:
        with self._mutex:
            if self._queue:
                self._queue.popleft().set()  # straight to the next writer: it never looks free in between
            else:
                self._taken = False


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(path: str) -> WriteGate:
    """The process's gate for the database file at `path` (every engine on that file shares it)."""
    key = os.path.realpath(path)
    with _gates_lock:
        return _gates.setdefault(key, WriteGate())
