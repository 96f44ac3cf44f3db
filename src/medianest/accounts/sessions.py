"""A user's sign-in sessions: one per refresh-token family (a sign-in and all its rotations).

The live token of a family is its newest unused one; revoking a session revokes the whole family,
so that device must sign in again once its short-lived access token runs out. Signing out everywhere
also ends the access and media tokens already handed out, and the user's sockets, at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import RefreshToken, User
from medianest.accounts.service import end_sign_ins, revoke_family
from medianest.audit.service import record
from medianest.db.base import utcnow
from medianest.errors import NotFound


@dataclass(frozen=True)
class Session:
    id: str
    signed_in_at: datetime
    last_active_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None


async def list_sessions(session: AsyncSession, user: User) -> list[Session]:
    live = list(await session.scalars(
        select(RefreshToken).where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None),
                                   RefreshToken.used_at.is_(None), RefreshToken.expires_at > utcnow())
        .order_by(RefreshToken.created_at.desc())))
    started = dict((await session.execute(
        select(RefreshToken.family, func.min(RefreshToken.created_at))
        .where(RefreshToken.family.in_([t.family for t in live])).group_by(RefreshToken.family))).all())
    return [Session(id=t.family, signed_in_at=started.get(t.family, t.created_at), last_active_at=t.created_at,
                    expires_at=t.expires_at, ip=t.ip, user_agent=t.user_agent) for t in live]


async def revoke_session(session: AsyncSession, user: User, family: str) -> None:
    """End one of the caller's sessions; anyone else's is a 404, as if it did not exist."""
    owned = await session.scalar(select(RefreshToken.id).where(
        RefreshToken.family == family, RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)).limit(1))
    if owned is None:
        raise NotFound("session", family)
    await revoke_family(session, family)
    record(session, "session.revoke", user, target=f"session:{family[:8]}")
    await session.commit()


async def revoke_all(session: AsyncSession, user: User) -> None:
    """Sign the caller out everywhere, this session included."""
    await end_sign_ins(session, user.id)
    record(session, "session.revoke_all", user, target=f"user:{user.id}")
    await session.commit()
