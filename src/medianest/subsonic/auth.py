"""Who is calling: `u` with `p` (clear or `enc:` hex) or `t`+`s` (t = md5(password + salt)), checked
against the user's Subsonic password (not the login password: that is an Argon2 hash, which token
auth cannot use), or `apiKey` alone (the apiKeyAuthentication extension) with one of our API keys.

Failed attempts count toward the sign-in limit per client address and per account name, as a failed
web sign-in does, and at the limit even the right password waits: otherwise the limit would tell a
guesser when they are right.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.api_keys import user_for_key
from medianest.accounts.models import STATUS_ACTIVE, User
from medianest.accounts.subsonic import read_password
from medianest.audit.service import record
from medianest.context import client_ip
from medianest.errors import Forbidden, RateLimited, Unauthorized
from medianest.parts import Parts
from medianest.subsonic.params import Params
from medianest.subsonic.protocol import (
    BAD_API_KEY,
    CONFLICTING_AUTH,
    GENERIC,
    NOT_AUTHORIZED,
    WRONG_CREDENTIALS,
    SubsonicError,
    missing,
)

WRONG = "wrong username or password (MediaNest: use the Subsonic password from your account page)"
SUSPENDED = "this account is suspended"


async def authenticate(session: AsyncSession, params: Params, parts: Parts) -> User:
    api_key = params.opt("apiKey")
    if api_key is not None:
        if params.has("u") or params.has("p") or params.has("t"):
            raise SubsonicError(CONFLICTING_AUTH, "multiple conflicting authentication mechanisms provided: "
                                                  "send apiKey without u, p, t and s")
        return await _by_key(session, api_key, parts)
    name = params.opt("u")
    if name is None:
        raise missing("u")
    if params.has("p") and params.has("t"):
        raise SubsonicError(CONFLICTING_AUTH, "multiple conflicting authentication mechanisms provided: "
                                              "send p or t and s, not both")
    if not params.has("p") and not params.has("t"):
        raise missing("p (or t and s, or apiKey)")
    if params.has("t") and not params.has("s"):
        raise missing("s")
    return await _by_password(session, name, params, parts)


async def _by_key(session: AsyncSession, api_key: str, parts: Parts) -> User:
    where = f"ip:{client_ip() or 'unknown'}"
    await _check(parts, (where,))
    try:
        return await user_for_key(session, api_key)
    except Unauthorized as exc:
        await parts.limits.count("auth", where)
        raise SubsonicError(BAD_API_KEY, "invalid API key") from exc
    except Forbidden as exc:
        raise SubsonicError(NOT_AUTHORIZED, SUSPENDED) from exc


async def _by_password(session: AsyncSession, name: str, params: Params, parts: Parts) -> User:
    keys = (f"ip:{client_ip() or 'unknown'}", f"account:{name.lower()}")
    await _check(parts, keys)
    user = await session.scalar(select(User).where(User.username_key == name.lower()))
    secret = read_password(parts.integrations.box, user) if user is not None else None
    if user is None or secret is None or not _matches(secret, params):
        for key in keys:
            await parts.limits.count("auth", key)
        record(session, "auth.subsonic_failed", None, target=f"user:{user.id}" if user else None, username=name)
        await session.commit()
        raise SubsonicError(WRONG_CREDENTIALS, WRONG)
    if user.status != STATUS_ACTIVE:
        raise SubsonicError(NOT_AUTHORIZED, SUSPENDED)
    return user


def _matches(secret: str, params: Params) -> bool:
    password = params.opt("p")
    if password is not None:
        return hmac.compare_digest(_clear(password).encode(), secret.encode())
    token, salt = params.str("t"), params.str("s")
    # MD5 because the protocol says so; the secret is Subsonic's own, never the login password.
    expected = hashlib.md5((secret + salt).encode(), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(expected.encode(), token.lower().encode())


def _clear(password: str) -> str:
    """`enc:` + the password's UTF-8 in hex, as old clients send it; anything else as it is."""
    if not password.startswith("enc:"):
        return password
    try:
        raw = bytes.fromhex(password[4:])
    except ValueError:
        return "\0"  # matches no password
    try:
        return raw.decode()
    except UnicodeDecodeError:  # some clients hex-encode each character's code point, not its UTF-8
        return raw.decode("latin-1")


async def _check(parts: Parts, keys: tuple[str, ...]) -> None:
    try:
        for key in keys:
            await parts.limits.check("auth", key, "sign-in attempts")
    except RateLimited as exc:
        raise SubsonicError(GENERIC, f"too many failed sign-ins; try again in {exc.retry_after_s} s") from exc
