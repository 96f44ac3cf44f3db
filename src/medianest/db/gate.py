"""One write transaction at a time per SQLite file in this process, first come, first served.

SQLite lets one connection write at a time. Left to itself, a connection that finds the write lock taken
naps and tries again (its busy handler sleeps 1, 2, 5, ... then 100 ms at a time), so under load the lock
sits free while the waiters nap, and whoever wakes at the right moment wins: with 20 clients the slowest
writes waited seconds (bench/load_bench.py). Writers queue here instead and get the lock in arrival order
the moment it is let go.

The queue spans event loops: huey's job threads and the migrations run loops of their own in the same
process, so it is guarded by a thread lock and each waiter is woken on its own loop. Other processes
(`medianest scan`, `medianest worker`) still meet this one at SQLite's busy handler.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque


class WriteGate:
    """A fair lock whose waiters may be on any event loop; `release` may be called from any thread."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._taken = False
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def acquire(self, timeout_s: float) -> bool:
        """True once the caller holds the gate; False when its turn did not come within `timeout_s`."""
        with self._mutex:
            if not self._taken:
                self._taken = True
                return True
            turn = asyncio.get_running_loop().create_future()
            self._queue.append(turn)
        try:
            async with asyncio.timeout(timeout_s):
                await turn
        except BaseException as exc:
            if not self._withdraw(turn):
                self.release()  # the gate was handed over just as this waiter gave up: pass it on
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    def release(self) -> None:
        """Hand the gate to the longest waiter, or leave it free."""
        while True:
            with self._mutex:
                if not self._queue:
                    self._taken = False
                    return
                turn = self._queue.popleft()  # from here on it is that waiter's, even if it is leaving
            try:
                turn.get_loop().call_soon_threadsafe(_wake, turn)
                return
            except RuntimeError:  # its loop is closed: nobody waits there any more
                continue

    def _withdraw(self, turn: asyncio.Future[None]) -> bool:
        """Take a waiter out of the queue; False if it had already been given the gate."""
        with self._mutex:
            try:
                self._queue.remove(turn)
            except ValueError:
                return False
            return True


def _wake(turn: asyncio.Future[None]) -> None:
    if not turn.done():  # a waiter that timed out or was cancelled meanwhile passes the gate on itself
        turn.set_result(None)


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(path: str) -> WriteGate:
    """The process's gate for the database file at `path` (every engine on that file shares it)."""
    key = os.path.realpath(path)
    with _gates_lock:
        return _gates.setdefault(key, WriteGate())
