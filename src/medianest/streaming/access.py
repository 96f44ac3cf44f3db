"""Who may read which file: a bearer access token or a media token bound to the item (`?token=`).

Byte requests come in bursts (a player seeks, a browser asks for many ranges), so the lookups behind
them are cached for a moment. The cache is dropped whenever this process commits to the database (so a
suspension, a deleted user or a deleted item here takes effect at once, without every writer having to
know about this cache); another process sees such a change within `TTL_S`. That bound also holds for
revoked tokens (a password changed through another server or the CLI): 2 s is the delay the sockets'
sweep has too (realtime/guard.py), short next to anything a person does after changing a password, and
what keeps a seeking player's burst of range requests at one user query.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, select

from medianest.accounts.api_keys import user_id_for_key
from medianest.accounts.models import STATUS_ACTIVE, User
from medianest.accounts.service import REVOKED
from medianest.accounts.tokens import ACCESS, MEDIA, Claims, TokenSigner
from medianest.db.engine import SessionFactory
from medianest.errors import Forbidden, NotFound, Unauthorized, Unavailable
from medianest.library.buckets import BucketFolders
from medianest.library.folders import raise_if_offline
from medianest.library.models import Media
from medianest.library.service import servable_path
from medianest.library.walk import inside
from medianest.storage.objects import Stored, is_object
from medianest.streaming.response import FileInfo

TTL_S = 2.0
MAX_ENTRIES = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """Who asks for the bytes, and the token epoch their token was signed in (None for an API key,
    whose revocation is checked by looking the key up)."""

    user_id: int
    epoch: int | None


class StreamAccess:
    def __init__(self, sessions: SessionFactory, signer: TokenSigner, roots: list[Path],
                 bucket: BucketFolders | None = None, redirect: bool = False) -> None:
        self.sessions = sessions
        self.signer = signer
        self.roots = roots
        self.bucket = bucket  # library folders in a bucket, if any
        self.redirect = redirect  # objects: send players a presigned URL (MEDIANEST_S3_REDIRECT)
        self._tokens: dict[tuple[str, str], Claims] = {}
        self._users: dict[int, tuple[float, tuple[str, int] | None]] = {}
        self._media: dict[int, tuple[float, tuple[Media, str | None] | None]] = {}
        self._keys: dict[str, tuple[float, int]] = {}
        event.listen(sessions.kw["bind"].sync_engine, "commit", self._on_commit)

    def caller(self, media_id: int, token: str | None, bearer: str | None) -> Caller:
        """The caller from either credential; the media token must name this item."""
        if token:
            claims = self.claims(token, MEDIA)
            if claims is not None and claims.media_id == media_id:
                return Caller(claims.user_id, claims.epoch)
        if bearer:
            claims = self.claims(bearer, ACCESS)
            if claims is not None:
                return Caller(claims.user_id, claims.epoch)
        raise Unauthorized("a valid access token or media token is required")

    async def caller_for(self, media_id: int, token: str | None, bearer: str | None, api_key: str | None) -> Caller:
        """`caller`, or else the owner of an `X-Api-Key` (looked up, and cached like the rest)."""
        try:
            return self.caller(media_id, token, bearer)
        except Unauthorized:
            if not api_key:
                raise
        return Caller(await self._cached_key(api_key), None)

    async def _cached_key(self, api_key: str) -> int:
        now = time.monotonic()
        hit = self._keys.get(api_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.sessions() as session:
            user_id = await user_id_for_key(session, api_key)  # Unauthorized for an unknown key: not cached
        _bounded(self._keys)[api_key] = (now + TTL_S, user_id)
        return user_id

    def claims(self, token: str, scope: str) -> Claims | None:
        """`TokenSigner.verify`, remembered: a player sends the same token with every range request,
        and a verified token string stays valid until its expiry (the secret never changes while we run)."""
        claims = self._tokens.get((token, scope))
        if claims is None:
            claims = self.signer.verify(token, scope)
            if claims is None:
                return None  # refusals are not cached, so junk tokens cannot fill the cache
            _bounded(self._tokens)[(token, scope)] = claims
        return claims if claims.expires_at > time.time() else None

    async def check_user(self, caller: Caller) -> None:
        """Refuse a gone or suspended user, and a token signed before the user's current epoch."""
        standing = await self._cached(self._users, caller.user_id, self._load_user)
        if standing is None:
            raise Unauthorized("account no longer exists")
        status, epoch = standing
        if status != STATUS_ACTIVE:
            raise Forbidden("this account is suspended")
        if caller.epoch is not None and caller.epoch != epoch:
            raise Unauthorized(REVOKED)

    async def media_token(self, caller: Caller, media_id: int) -> str:
        """A media token for `caller` and this item (an HLS playlist's segment URLs each carry one)."""
        epoch = caller.epoch
        if epoch is None:  # an API key's caller: the user's current epoch
            standing = await self._cached(self._users, caller.user_id, self._load_user)
            epoch = standing[1] if standing else 0
        return self.signer.media_token(caller.user_id, media_id, epoch)

    async def media(self, media_id: int) -> Media:
        return (await self._visible(media_id))[0]

    async def file(self, media_id: int) -> tuple[Media, FileInfo]:
        media, path = await self._visible(media_id)
        if is_object(media.path):
            return media, await self._object(media, path)
        try:
            if path is None:
                raise NotFound("media", media_id)
            st = _stat(path, media_id)
        except NotFound:
            await raise_if_offline(self.sessions, media, self.roots)  # its folder offline: 503 with why
            raise
        return media, FileInfo(path, st.st_size, st.st_mtime, media.mime)

    async def _object(self, media: Media, path: str | None) -> FileInfo:
        """An item kept in a bucket: its size and dates as the last scan listed them (no call to the
        bucket here; the GET asks for exactly that version)."""
        key = self.bucket.bucket.key_of(media.path) if self.bucket is not None and path is not None else None
        if self.bucket is None or key is None:  # its bucket or prefix no longer configured
            await raise_if_offline(self.sessions, media, self.roots)
            raise NotFound("media", media.id)
        stored = Stored(self.bucket.bucket, key, media.etag, self.redirect)
        return FileInfo(media.path, media.size, media.mtime, media.mime, stored)

    def forget(self) -> None:
        """Drop everything cached (after a user is suspended or deleted, or media changes)."""
        self._users.clear()
        self._media.clear()
        self._keys.clear()

    def _on_commit(self, _conn: object) -> None:
        # Commits are rare next to byte requests (reads here never commit), so a full drop is cheap.
        self.forget()

    async def _visible(self, media_id: int) -> tuple[Media, str | None]:
        entry = await self._cached(self._media, media_id, self._load_media)
        if entry is None:
            raise NotFound("media", media_id)
        return entry

    async def _cached(self, cache: dict[int, tuple[float, T]], key: int,
                      load: Callable[[int], Awaitable[T]]) -> T:
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load(key)
        _bounded(cache)[key] = (now + TTL_S, value)
        return value

    async def _load_user(self, user_id: int) -> tuple[str, int] | None:
        """The user's status and token epoch, in the one query a burst of range requests costs."""
        async with self.sessions() as session:
            row = (await session.execute(select(User.status, User.token_epoch).where(User.id == user_id))).first()
        return None if row is None else (row.status, row.token_epoch)

    async def _load_media(self, media_id: int) -> tuple[Media, str | None] | None:
        """The visible item and its real path, resolved once per cache entry (realpath is a syscall
        per path component); None when the item is gone or hidden."""
        async with self.sessions() as session:
            media = await session.get(Media, media_id)
        if media is None or media.deleted_at is not None:
            return None
        if is_object(media.path):
            in_library = self.bucket is not None and inside(media.path, self.bucket.roots)
            return media, media.path if in_library else None
        try:
            return media, servable_path(media, self.roots)
        except (NotFound, Unavailable):  # `file` tells which; the artwork is still there
            return media, None


def _bounded(cache: dict[Any, Any]) -> dict[Any, Any]:
    """The cache, emptied first when full: simpler than LRU, and a refill costs one query per key."""
    if len(cache) >= MAX_ENTRIES:
        cache.clear()
    return cache


def _stat(path: str, media_id: int) -> os.stat_result:
    """Checked on every request: the file may have gone, or become a folder or a symlink, since its
    resolved path was cached. lstat: a link put in its place could point anywhere, outside the library."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise NotFound("media", media_id) from exc
    if not stat.S_ISREG(st.st_mode):
        raise NotFound("media", media_id)
    return st
