"""Sign in with Plex: a PIN created at plex.tv, approved by the person at app.plex.tv, polled here.

Once plex.tv shows a token for the PIN, the Plex account is looked up, the local user linked to its
Plex id is found - or created, when `MEDIANEST_PLEX_SIGNUP` allows it (the server's first user
becomes its admin) - and our own tokens are issued. A local user is never matched by name or email:
anyone can pick a Plex name, so that would hand over accounts. The Plex token is kept only sealed
(`SecretBox`), for the Plex features that act as the user.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import httpx
import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import ROLE_ADMIN, ROLE_USER, STATUS_ACTIVE, PlexPin, User
from medianest.accounts.schemas import PlexPinOut, PlexPinStatus
from medianest.accounts.service import Auth
from medianest.audit.service import record
from medianest.config import Settings
from medianest.context import client_ip
from medianest.db.base import utcnow
from medianest.errors import Forbidden, NotFound, UpstreamError, UpstreamTimeout
from medianest.integrations.plex_tv import PinGone, PlexAccount, PlexTv, PlexTvError
from medianest.security.crypto import SecretBox, secret_box
from medianest.security.limits import RateLimits

log = structlog.get_logger(__name__)

_NAME_CHARS = re.compile(r"[^\w.@+-]")
T = TypeVar("T")
PIN_KEPT_AFTER_EXPIRY = timedelta(days=1)
NO_SIGNUP = "no account here is linked to this Plex account; ask an admin to create one"


@dataclass(frozen=True)
class PlexSignIn:
    plextv: PlexTv
    auth: Auth
    box: SecretBox
    auth_base: str
    signup: bool
    limits: RateLimits

    async def start(self, session: AsyncSession) -> PlexPinOut:
        # Each PIN costs a call to plex.tv: counted like a sign-in attempt, per client address.
        await self.limits.hit("auth", f"ip:{client_ip() or 'unknown'}", "sign-in attempts")
        pin = await _upstream(self.plextv.create_pin())
        # Pins nobody finished would pile up; a day after expiry they are of no use even for support.
        await session.execute(delete(PlexPin).where(PlexPin.expires_at < utcnow() - PIN_KEPT_AFTER_EXPIRY))
        row = PlexPin(handle=secrets.token_urlsafe(24), plex_pin_id=pin.id, code=pin.code, expires_at=pin.expires_at)
        session.add(row)
        await session.commit()
        return PlexPinOut(id=row.handle, code=pin.code, auth_url=self.plextv.auth_url(self.auth_base, pin.code),
                          expires_at=pin.expires_at)

    async def poll(self, session: AsyncSession, handle: str) -> PlexPinStatus:
        row = await session.scalar(select(PlexPin).where(PlexPin.handle == handle))
        if row is None:
            raise NotFound("plex pin", handle)
        if row.used_at is not None or row.expires_at <= utcnow():
            return PlexPinStatus(status="expired")
        try:
            pin = await _upstream(self.plextv.check_pin(row.plex_pin_id))
        except PinGone:
            return PlexPinStatus(status="expired")
        if pin.auth_token is None:
            return PlexPinStatus(status="waiting")
        account = await _upstream(self.plextv.user(pin.auth_token))
        return await self._sign_in(session, row, account, pin.auth_token)

    async def _sign_in(self, session: AsyncSession, row: PlexPin, account: PlexAccount, token: str) -> PlexPinStatus:
        # Claim the PIN in the same transaction as the sign-in: two polls racing get one session.
        claimed = await session.execute(update(PlexPin).where(PlexPin.id == row.id, PlexPin.used_at.is_(None))
                                        .values(used_at=utcnow()))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return PlexPinStatus(status="expired")
        try:
            user = await self._user_for(session, account)
        except Forbidden as refused:
            await session.rollback()
            record(session, "auth.plex_login_refused", None, target=f"plex:{account.id}", reason=refused.message)
            await session.commit()
            raise
        user.plex_username, user.last_login_at = account.username, utcnow()
        user.plex_token = self.box.seal(token, plex_token_context(user.id))
        record(session, "auth.plex_login", user, target=f"plex:{account.id}")
        pair = await self.auth.issue(session, user)
        log.info("plex sign-in", user_id=user.id)
        return PlexPinStatus(status="authorized", **pair.model_dump())

    async def _user_for(self, session: AsyncSession, account: PlexAccount) -> User:
        user = await session.scalar(select(User).where(User.plex_id == account.id))
        if user is not None:
            if user.status != STATUS_ACTIVE:
                raise Forbidden("this account is suspended")
            return user
        first = not await session.scalar(select(func.count()).select_from(User))
        if not (first or self.signup):
            raise Forbidden(NO_SIGNUP)
        user = User(username=(name := await _free_name(session, account.username)), username_key=name.lower(),
                    password_hash=None, role=ROLE_ADMIN if first else ROLE_USER, status=STATUS_ACTIVE,
                    plex_id=account.id)
        session.add(user)
        await session.flush()
        record(session, "user.create", user, target=f"user:{user.id}", via="plex", role=user.role)
        return user


def plex_token_context(user_id: int) -> str:
    """Bound into the sealed token: a blob copied onto another user's row does not open."""
    return f"user:{user_id}:plex"


async def _free_name(session: AsyncSession, plex_name: str) -> str:
    """A local username for a new Plex user: the Plex name made valid, with a suffix when taken."""
    base = _NAME_CHARS.sub("_", plex_name)[:56] or "plex"
    for candidate in (base, *(f"{base}-plex{n or ''}" for n in range(100))):
        if not await session.scalar(select(User.id).where(User.username_key == candidate.lower())):
            return candidate
    return f"{base[:40]}-{secrets.token_hex(6)}"


async def _upstream(call: Awaitable[T]) -> T:
    try:
        return await call
    except PinGone:
        raise
    except PlexTvError as exc:
        log.warning("plex.tv failed", reason=str(exc))
        if exc.timeout:
            raise UpstreamTimeout("plex.tv") from None
        raise UpstreamError("plex.tv", str(exc).removeprefix("plex.tv ")) from None


def plex_client_id(server_secret: str) -> str:
    """Stable per server without storing anything: derived from the secret, revealing nothing of it."""
    digest = hmac.new(server_secret.encode(), b"medianest plex client id", hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def plex_sign_in(settings: Settings, http: httpx.AsyncClient, auth: Auth, limits: RateLimits) -> PlexSignIn:
    plextv = PlexTv(http, settings.plex_tv_url, plex_client_id(settings.secret_key), settings.plex_product)
    return PlexSignIn(plextv, auth, secret_box(settings), settings.plex_auth_url, settings.plex_signup,
                      limits)
