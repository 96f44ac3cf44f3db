"""Sign-up of the first admin, sign-in, token rotation with reuse detection, and sign-out."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import ROLE_ADMIN, STATUS_ACTIVE, RefreshToken, User
from medianest.accounts.passwords import Passwords, check_rules
from medianest.accounts.schemas import TokenPair, UserOut
from medianest.accounts.tokens import ACCESS, Claims, TokenSigner, hash_token, new_refresh_token
from medianest.audit.service import record
from medianest.context import client_ip, user_agent
from medianest.db.base import utcnow
from medianest.errors import Conflict, Forbidden, Unauthorized
from medianest.security.limits import RateLimits

log = structlog.get_logger(__name__)

BAD_LOGIN = "invalid username or password"
REVOKED = "this sign-in has ended (password changed or signed out everywhere); please sign in again"


class Auth:
    """Everything that signs or checks credentials; one per app, built from Settings."""

    def __init__(self, signer: TokenSigner, refresh_ttl_s: int, limits: RateLimits) -> None:
        self.signer = signer
        self.refresh_ttl_s = refresh_ttl_s
        self.limits = limits

    async def setup_required(self, session: AsyncSession) -> bool:
        return not await session.scalar(select(func.count()).select_from(User))

    async def setup(self, session: AsyncSession, username: str, password: str) -> TokenPair:
        if not await self.setup_required(session):
            raise Conflict("setup is already done; sign in instead")
        user = await create_user(session, username, password, ROLE_ADMIN)
        record(session, "auth.setup", user, target=f"user:{user.id}")
        return await self.issue(session, user)

    async def login(self, session: AsyncSession, username: str, password: str) -> TokenPair:
        """Failed attempts count per client address and per account name; at the limit, even the right
        password waits (otherwise the limit would tell a guesser when they are right)."""
        keys = (f"ip:{client_ip() or 'unknown'}", f"account:{username.lower()}")
        for key in keys:
            await self.limits.check("auth", key, "sign-in attempts")
        user = await session.scalar(select(User).where(User.username_key == username.lower()))
        # Same message and the same hashing work whether the user exists or not.
        if not await Passwords.of(session).verify(password, user.password_hash if user else None) or user is None:
            await self._failed(session, keys, username, user)
            raise Unauthorized(BAD_LOGIN)
        if user.status != STATUS_ACTIVE:
            raise Forbidden("this account is suspended")
        user.last_login_at = utcnow()
        record(session, "auth.login", user, target=f"user:{user.id}")
        log.info("sign-in", user_id=user.id)
        return await self.issue(session, user)

    async def _failed(self, session: AsyncSession, keys: tuple[str, ...], username: str, user: User | None) -> None:
        for key in keys:
            await self.limits.count("auth", key)
        record(session, "auth.login_failed", None, target=f"user:{user.id}" if user else None, username=username)
        await session.commit()

    async def issue(self, session: AsyncSession, user: User, family: str | None = None) -> TokenPair:
        token = new_refresh_token()
        session.add(RefreshToken(
            user_id=user.id, family=family or secrets.token_hex(16), token_hash=hash_token(token),
            expires_at=utcnow() + timedelta(seconds=self.refresh_ttl_s), ip=client_ip(), user_agent=user_agent(),
        ))
        await session.commit()
        return TokenPair(access_token=self.signer.access_token(user.id, user.token_epoch), refresh_token=token,
                         expires_in=self.signer.access_ttl_s, user=UserOut.of(user))

    async def refresh(self, session: AsyncSession, token: str) -> TokenPair:
        row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            raise Unauthorized("refresh token is invalid or expired")
        if row.used_at is not None:
            # A rotated token came back: someone holds a copy. End the whole family.
            await revoke_family(session, row.family)
            record(session, "auth.refresh_reuse", await session.get(User, row.user_id), family=row.family[:8])
            await session.commit()
            log.warning("refresh token reuse; family revoked", user_id=row.user_id)
            raise Unauthorized("refresh token was already used; please sign in again")
        user = await session.get(User, row.user_id)
        if user is None or user.status != STATUS_ACTIVE:
            raise Unauthorized("account is not active")
        # Claimed in one statement: a sign-out everywhere (or a twin refresh) that committed since the read
        # above leaves nothing to claim, so no new token outlives it.
        claimed = await session.execute(
            update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None),
                                       RefreshToken.revoked_at.is_(None)).values(used_at=utcnow()))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Unauthorized("refresh token is invalid or expired")
        await session.refresh(user)  # the epoch as of the claim
        return await self.issue(session, user, family=row.family)

    async def logout(self, session: AsyncSession, token: str) -> None:
        row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
        if row is not None:
            await revoke_family(session, row.family)
            await session.commit()

    async def user_for_access_token(self, session: AsyncSession, token: str) -> User:
        return (await self.verify_access(session, token))[0]

    async def verify_access(self, session: AsyncSession, token: str) -> tuple[User, Claims]:
        """The token's user and claims; refused when the token is bad or expired, the user gone or
        suspended, or the token signed before the user's current epoch."""
        claims = self.signer.verify(token, ACCESS)
        if claims is None:
            raise Unauthorized("invalid or expired access token")
        user = await active_user(session, claims.user_id)
        if claims.epoch != user.token_epoch:
            raise Unauthorized(REVOKED)
        return user, claims


async def active_user(session: AsyncSession, user_id: int) -> User:
    """The user, refused at once when suspended or gone (checked on every request)."""
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthorized("account no longer exists")
    if user.status != STATUS_ACTIVE:
        raise Forbidden("this account is suspended")
    return user


@dataclass(frozen=True)
class Standing:
    """What decides whether a user's credentials still hold."""

    status: str
    role: str
    token_epoch: int


# Ids per query: well under SQLite's and asyncpg's limits on bound parameters.
STANDING_BATCH = 500


async def standings(session: AsyncSession, user_ids: Collection[int]) -> dict[int, Standing]:
    """The standing of each of these users that still exists (a deleted one is simply absent)."""
    ids, found = sorted(user_ids), {}
    for start in range(0, len(ids), STANDING_BATCH):
        rows = await session.execute(select(User.id, User.status, User.role, User.token_epoch)
                                     .where(User.id.in_(ids[start:start + STANDING_BATCH])))
        found.update({row.id: Standing(row.status, row.role, row.token_epoch) for row in rows})
    return found


async def revoke_family(session: AsyncSession, family: str) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_user_tokens(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def end_sign_ins(session: AsyncSession, user_id: int) -> None:
    """Sign the user out everywhere, at the caller's commit: refresh tokens are revoked and the token epoch
    raised, so the access and media tokens already handed out stop working too, and the user's sockets
    are ended (realtime/guard.py). API keys are not sign-ins and stay; revoke them on their own."""
    await revoke_user_tokens(session, user_id)
    # Raised in SQL, not read-modify-write: two changes at once must each leave a new epoch behind.
    await session.execute(update(User).where(User.id == user_id).values(token_epoch=User.token_epoch + 1))


async def create_user(session: AsyncSession, username: str, password: str, role: str) -> User:
    check_rules(password)
    if await session.scalar(select(User.id).where(User.username_key == username.lower())):
        raise Conflict(f"username {username!r} is taken")
    password_hash = await Passwords.of(session).hash(password)
    user = User(username=username, username_key=username.lower(), password_hash=password_hash, role=role,
                status=STATUS_ACTIVE)
    session.add(user)
    await session.flush()
    return user
