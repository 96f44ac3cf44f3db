"""Who may read which file: a bearer access token or a media token bound to the item (`?token=`).

Byte requests come in bursts (a player seeks, a browser asks for many ranges), so the lookups behind
them are cached for a moment. The cache is dropped at once when this process suspends or deletes a
user or changes media; another process sees such a change within `TTL_S`.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from medianest.accounts.models import STATUS_ACTIVE, User
from medianest.accounts.tokens import ACCESS, MEDIA, TokenSigner
from medianest.db.engine import SessionFactory
from medianest.errors import Forbidden, NotFound, Unauthorized
from medianest.library.models import Media
from medianest.library.service import servable_path
from medianest.streaming.response import FileInfo

TTL_S = 2.0
MAX_ENTRIES = 10_000


class StreamAccess:
    def __init__(self, sessions: SessionFactory, signer: TokenSigner, roots: list[Path]) -> None:
        self.sessions = sessions
        self.signer = signer
        self.roots = roots
        self._users: dict[int, tuple[float, str | None]] = {}
        self._media: dict[int, tuple[float, Media | None]] = {}

    def user_id(self, media_id: int, token: str | None, bearer: str | None) -> int:
        """The caller's user id from either credential; the media token must name this item."""
        if token:
            claims = self.signer.verify(token, MEDIA)
            if claims is not None and claims.media_id == media_id:
                return claims.user_id
        if bearer:
            claims = self.signer.verify(bearer, ACCESS)
            if claims is not None:
                return claims.user_id
        raise Unauthorized("a valid access token or media token is required")

    async def check_user(self, user_id: int) -> None:
        status = await self._cached(self._users, user_id, self._load_user_status)
        if status is None:
            raise Unauthorized("account no longer exists")
        if status != STATUS_ACTIVE:
            raise Forbidden("this account is suspended")

    async def media(self, media_id: int) -> Media:
        media = await self._cached(self._media, media_id, self._load_media)
        if media is None or media.deleted_at is not None:
            raise NotFound("media", media_id)
        return media

    async def file(self, media_id: int) -> tuple[Media, FileInfo]:
        media = await self.media(media_id)
        path = servable_path(media, self.roots)
        st = _stat(path, media_id)
        return media, FileInfo(path, st.st_size, st.st_mtime, media.mime)

    def forget(self) -> None:
        """Drop everything cached (after a user is suspended or deleted, or media changes)."""
        self._users.clear()
        self._media.clear()

    async def _cached(self, cache: dict, key: int, load):  # type: ignore[no-untyped-def,type-arg]
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load(key)
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = (now + TTL_S, value)
        return value

    async def _load_user_status(self, user_id: int) -> str | None:
        async with self.sessions() as session:
            status: str | None = await session.scalar(select(User.status).where(User.id == user_id))
            return status

    async def _load_media(self, media_id: int) -> Media | None:
        async with self.sessions() as session:
            return await session.get(Media, media_id)


def _stat(path: str, media_id: int):  # type: ignore[no-untyped-def]
    import os

    try:
        return os.stat(path)
    except OSError as exc:
        raise NotFound("media", media_id) from exc
