"""Per-user API keys (`X-Api-Key`) for scripts and apps: shown once, stored as a SHA-256, revocable.

A key is 256 random bits, so a plain hash is as good as a password hash here and lets a request find
its key with one indexed lookup. `last_used_at` is written at most once a minute per key: it answers
"is this key still in use?", not "when exactly", and a write per request would cost more than the call.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import ApiKey, User
from medianest.accounts.service import active_user
from medianest.accounts.tokens import hash_token
from medianest.audit.service import record
from medianest.db.base import utcnow
from medianest.errors import NotFound, Unauthorized

KEY_PREFIX = "mn_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def create_key(session: AsyncSession, user: User, name: str) -> tuple[ApiKey, str]:
    """The new key's row and the key itself, which is never shown again."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(user_id=user.id, name=name, key_hash=hash_token(key), prefix=key[:8], created_at=utcnow())
    session.add(row)
    await session.flush()
    record(session, "api_key.create", user, target=f"api_key:{row.id}", name=name)
    await session.commit()
    return row, key


async def list_keys(session: AsyncSession, user: User) -> list[ApiKey]:
    rows = await session.scalars(select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
                                 .order_by(ApiKey.id))
    return list(rows.all())


async def revoke_key(session: AsyncSession, user: User, key_id: int) -> None:
    """Revoke one of the caller's keys; anyone else's is a 404, as if it did not exist."""
    done = await session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id,
                                                      ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("api key", key_id)
    record(session, "api_key.revoke", user, target=f"api_key:{key_id}")
    await session.commit()


async def revoke_user_keys(session: AsyncSession, user_id: int) -> None:
    await session.execute(update(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                          .values(revoked_at=utcnow()))


async def live_key(session: AsyncSession, key: str) -> ApiKey:
    """The row of a live key (its owner not checked for suspension: see `user_for_key`)."""
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(key), ApiKey.revoked_at.is_(None)))
    if row is None:
        raise Unauthorized("invalid API key")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        await session.commit()
    return row


async def user_id_for_key(session: AsyncSession, key: str) -> int:
    """The owner of a live key (not checked for suspension: see `user_for_key`)."""
    return (await live_key(session, key)).user_id


async def user_for_key(session: AsyncSession, key: str) -> User:
    return await active_user(session, await user_id_for_key(session, key))


async def key_and_user(session: AsyncSession, key: str) -> tuple[int, User]:
    """The live key's id and its active owner (a socket keeps the id to notice the key's revocation)."""
    row = await live_key(session, key)
    return row.id, await active_user(session, row.user_id)


async def live_key_ids(session: AsyncSession, key_ids: Collection[int]) -> set[int]:
    """Which of these keys are still live."""
    if not key_ids:
        return set()
    rows = await session.scalars(select(ApiKey.id).where(ApiKey.id.in_(sorted(key_ids)), ApiKey.revoked_at.is_(None)))
    return set(rows.all())
