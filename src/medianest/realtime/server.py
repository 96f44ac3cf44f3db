"""The Socket.IO server (protocol v5, for socket.io-client v4) at /socket.io.

A client connects with `auth: {token: <access token>}` - or, for scripts, `auth: {api_key: <key>}` or
an `X-Api-Key` header; a missing, bad or expired credential, or a suspended account, is refused.
Each user joins `user:{id}`; `subscribe` adds `download:{id}` (their own download, or any for an
admin) or `status`. With Redis configured the server uses `AsyncRedisManager`, so an
event emitted by any process - another API instance, a `medianest worker` - reaches every client.
"""

from __future__ import annotations

from typing import Any

import socketio
import structlog

from medianest.accounts.api_keys import user_for_key
from medianest.accounts.service import Auth
from medianest.config import Settings
from medianest.db.engine import SessionFactory
from medianest.downloads.models import Download
from medianest.errors import DomainError
from medianest.realtime.notifier import LogNotifier

log = structlog.get_logger(__name__)


def create_server(settings: Settings, state: Any) -> socketio.AsyncServer:
    """The server; `state` is the app's, whose `sessions` and `auth` exist once the lifespan has run."""
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=[])
    rooms = _Rooms(sio, state)
    sio.on("connect", rooms.connect)
    sio.on("subscribe", rooms.subscribe)
    sio.on("unsubscribe", rooms.unsubscribe)
    return sio


def asgi_app(sio: socketio.AsyncServer) -> socketio.ASGIApp:
    """Mounted at /socket.io by the app, which has already matched that prefix."""
    return socketio.ASGIApp(sio, socketio_path=None)


class _Rooms:
    def __init__(self, sio: socketio.AsyncServer, state: Any) -> None:
        self.sio, self.state = sio, state

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.state.sessions
        return sessions

    @property
    def auth(self) -> Auth:
        auth: Auth = self.state.auth
        return auth

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        given = auth if isinstance(auth, dict) else {}
        token, key = given.get("token"), given.get("api_key") or environ.get("HTTP_X_API_KEY")
        try:
            async with self.sessions() as session:
                if isinstance(token, str):
                    user = await self.auth.user_for_access_token(session, token)
                elif isinstance(key, str):
                    user = await user_for_key(session, key)
                else:
                    raise socketio.exceptions.ConnectionRefusedError("an access token or API key is required")
        except DomainError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        await self.sio.save_session(sid, {"user_id": user.id, "admin": user.is_admin})
        await self.sio.enter_room(sid, f"user:{user.id}")

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
        me = await self.sio.get_session(sid)
        async with self.sessions() as session:
            owner = await session.scalar(Download.__table__.select().with_only_columns(Download.user_id)
                                         .where(Download.id == int(raw_id)))
        return owner is not None and (owner == me["user_id"] or me["admin"])


class SocketNotifier(LogNotifier):
    """The Notifier for code running in the serving process: emits through the Socket.IO server (and,
    as every notifier, logs and remembers the last events)."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        super().__init__()
        self.sio = sio

    async def emit(self, event: str, payload: dict[str, Any], room: str | list[str] | None = None) -> None:
        await super().emit(event, payload, room)
        await self.sio.emit(event, payload, to=room)
