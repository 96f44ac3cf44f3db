"""The Socket.IO server (protocol v5, for socket.io-client v4) at /socket.io.

A client connects with `auth: {token: <access token>}` - or, for scripts, `auth: {api_key: <key>}` or
an `X-Api-Key` header; a missing, bad, expired or revoked credential, or a suspended account, is refused,
and a socket whose credential stops holding later is ended (guard.py).
Each user joins `user:{id}`; `subscribe` adds `download:{id}` (their own download, or any for an
admin) or `status`. With Redis configured the server uses `AsyncRedisManager`, so an
event emitted by any process - another API instance, a `medianest worker` - reaches every client, and a
room closed by any process (a download removed) is emptied everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.api_keys import key_and_user
from medianest.accounts.service import Auth
from medianest.config import Settings
from medianest.db.engine import SessionFactory
from medianest.downloads.models import Download
from medianest.errors import DomainError
from medianest.events import LogNotifier
from medianest.parts import Parts
from medianest.realtime.guard import Holder, SocketGuard

log = structlog.get_logger(__name__)


def create_server(settings: Settings, parts: Callable[[], Parts]) -> tuple[socketio.AsyncServer, SocketGuard]:
    """The server and its guard (for the lifespan to run: `SocketGuard.running`); `parts` gives the
    process's parts once the lifespan has built them."""
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=[])
    guard = SocketGuard(sio)
    rooms = _Rooms(sio, parts, guard)
    sio.on("connect", rooms.connect)
    sio.on("disconnect", rooms.disconnect)
    sio.on("subscribe", rooms.subscribe)
    sio.on("unsubscribe", rooms.unsubscribe)
    return sio, guard


def asgi_app(sio: socketio.AsyncServer) -> socketio.ASGIApp:
    """Mounted at /socket.io by the app, which has already matched that prefix."""
    return socketio.ASGIApp(sio, socketio_path=None)


class _Rooms:
    def __init__(self, sio: socketio.AsyncServer, parts: Callable[[], Parts], guard: SocketGuard) -> None:
        self.sio, self.parts, self.guard = sio, parts, guard

    @property
    def sessions(self) -> SessionFactory:
        return self.parts().sessions

    @property
    def auth(self) -> Auth:
        return self.parts().auth

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        given = auth if isinstance(auth, dict) else {}
        token, key = given.get("token"), given.get("api_key") or environ.get("HTTP_X_API_KEY")
        try:
            async with self.sessions() as session:
                holder = await self._holder(session, token, key)
        except DomainError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        self.guard.admit(sid, holder)
        await self.sio.enter_room(sid, f"user:{holder.user_id}")

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self.guard.forget(sid)

    async def _holder(self, session: AsyncSession, token: Any, key: Any) -> Holder:
        if isinstance(token, str):
            user, claims = await self.auth.verify_access(session, token)
            return Holder(user.id, user.is_admin, epoch=claims.epoch, expires_at=claims.expires_at)
        if isinstance(key, str):
            key_id, user = await key_and_user(session, key)
            return Holder(user.id, user.is_admin, key_id=key_id)
        raise socketio.exceptions.ConnectionRefusedError("an access token or API key is required")

    async def subscribe(self, sid: str, data: Any) -> dict[str, Any]:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str) or not await self._may_join(sid, room):
            return {"ok": False, "error": "no such room"}  # the same answer for others' rooms: no leak
        await self.sio.enter_room(sid, room)
        return {"ok": True, "room": room}

    async def unsubscribe(self, sid: str, data: Any) -> dict[str, Any]:
        room = data.get("room") if isinstance(data, dict) else None
        if isinstance(room, str) and not room.startswith("user:"):
            await self.sio.leave_room(sid, room)
        return {"ok": True}

    async def _may_join(self, sid: str, room: str) -> bool:
        if room == "status":
            return True
        kind, _, raw_id = room.partition(":")
        if kind != "download" or not raw_id.isascii() or not raw_id.isdigit() or len(raw_id) > 18:
            return False
        me = self.guard.holder(sid)
        if me is None:  # ended meanwhile
            return False
        async with self.sessions() as session:
            owner = await session.scalar(Download.__table__.select().with_only_columns(Download.user_id)
                                         .where(Download.id == int(raw_id)))
        return owner is not None and (owner == me.user_id or me.admin)


class SocketNotifier(LogNotifier):
    """The Notifier for code running in the serving process: emits through the Socket.IO server (and,
    as every notifier, logs and remembers the last events)."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        super().__init__()
        self.sio = sio

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        await super().emit(event, payload, room)
        await self.sio.emit(event, payload, to=room)

    async def close_room(self, room: str) -> None:
        await super().close_room(room)
        await self.sio.close_room(room)  # through Redis too, when configured: every process empties it
