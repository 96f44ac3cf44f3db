"""Sockets never outlive the right to hold them.

A socket's credential is checked once, when it connects. Afterwards its user can be suspended or
deleted, change their password or sign out everywhere (each raises `users.token_epoch`), its API key
can be revoked, an admin can lose the role its rooms were granted with, or its access token simply runs
out. `SocketGuard` re-checks every socket this process holds: every `SWEEP_INTERVAL_S`, in one query for
all their users (and one for their API keys, when any socket came with one), and at once after any
commit this process makes, so a change made here ends the sockets here immediately and a change made
elsewhere (another server process, a worker, `medianest user passwd`) ends them within the interval. The
database is what every process already shares, so this needs no message through Redis, and a process
that missed a message (restarting, Redis away) still gets it right on its next sweep.

The web UI's socket reconnects by itself after being ended, with the current access token, or is refused
and signs out.

This is realtime's one background task, started and stopped with the app's lifespan (`running`). The
design wants background work in one home (`jobs/`); move it there once that exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import socketio
import structlog
from sqlalchemy import event

from medianest.accounts.api_keys import live_key_ids
from medianest.accounts.models import ROLE_ADMIN, STATUS_ACTIVE
from medianest.accounts.service import Standing, standings
from medianest.db.engine import SessionFactory

log = structlog.get_logger(__name__)

# How long a change made by another process may leave a socket open: the same bound as the stream
# access cache (streaming/access.py), and one small query per interval per process.
SWEEP_INTERVAL_S = 2.0
# After a sweep, commits wait this long to wake the next: a burst of writes (a scan's batches, download
# progress) costs at most a few sweeps a second, and a change made here still ends sockets at once.
WAKE_GAP_S = 0.25


@dataclass(frozen=True)
class Holder:
    """Whom a socket speaks for, and what it was admitted with."""

    user_id: int
    admin: bool
    epoch: int | None = None  # the access token's epoch (None for an API key)
    expires_at: float | None = None  # the access token's expiry, Unix time (None for an API key)
    key_id: int | None = None  # the API key it connected with

    def lost(self, standing: Standing | None, live_keys: set[int], now: float) -> str | None:
        """Why this socket must end (None while everything still holds)."""
        if self.expires_at is not None and self.expires_at <= now:
            return "access token expired"
        if standing is None:
            return "account deleted"
        if standing.status != STATUS_ACTIVE:
            return "account suspended"
        if self.epoch is not None and self.epoch != standing.token_epoch:
            return "signed out"
        if self.key_id is not None and self.key_id not in live_keys:
            return "API key revoked"
        if self.admin and standing.role != ROLE_ADMIN:
            return "admin role taken away"
        return None


class SocketGuard:
    """The sockets this process holds, each with its `Holder`, and the sweep that ends the lost ones."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self.holders: dict[str, Holder] = {}
        self._sessions: SessionFactory | None = None
        self._stopping = False

    def admit(self, sid: str, holder: Holder) -> None:
        self.holders[sid] = holder

    def forget(self, sid: str) -> None:
        self.holders.pop(sid, None)

    def holder(self, sid: str) -> Holder | None:
        return self.holders.get(sid)

    @contextlib.asynccontextmanager
    async def running(self, sessions: SessionFactory) -> AsyncIterator[None]:
        """Sweep while the block runs: periodically, and soon after each commit of this process."""
        self._sessions = sessions
        loop, wake = asyncio.get_running_loop(), asyncio.Event()

        def on_commit(_conn: Any) -> None:
            # Jobs commit from other threads too; one committing as the server stops finds the loop closed.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

        engine = sessions.kw["bind"].sync_engine
        event.listen(engine, "commit", on_commit)
        self._stopping = False
        task = asyncio.create_task(self._run(wake), name="socket-guard")
        try:
            yield
        finally:
            event.remove(engine, "commit", on_commit)
            self._stopping = True  # in case the cancel lands where it is absorbed (a sweep's own cleanup)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, wake: asyncio.Event) -> None:
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that comes as `wake` is set.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SWEEP_INTERVAL_S):
                    await wake.wait()
            wake.clear()  # before the sweep: a commit made while it runs wakes the next one
            try:
                await self.sweep()
            except Exception:  # the database away for a moment: the next round tries again
                log.warning("socket sweep failed", exc_info=True)
            await asyncio.sleep(WAKE_GAP_S)

    async def sweep(self) -> None:
        """End every socket whose holder lost its right to it."""
        held = dict(self.holders)  # sockets come and go while the database answers
        if not held or self._sessions is None:
            return
        async with self._sessions() as session:
            users = await standings(session, {h.user_id for h in held.values()})
            keys = await live_key_ids(session, {h.key_id for h in held.values() if h.key_id is not None})
        now = time.time()
        for sid, holder in held.items():
            reason = holder.lost(users.get(holder.user_id), keys, now)
            if reason is not None:
                await self._end(sid, holder, reason)

    async def _end(self, sid: str, holder: Holder, reason: str) -> None:
        self.forget(sid)
        log.info("socket ended", user_id=holder.user_id, reason=reason)
        await self.sio.disconnect(sid, ignore_queue=True)  # the socket is this process's own
