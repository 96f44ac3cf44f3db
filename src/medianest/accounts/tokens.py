"""Signed tokens: short-lived access JWTs, media-byte tokens for `?token=`, opaque refresh tokens.

Access and media tokens carry the user's token epoch (`users.token_epoch`, claim `ep`); a password
change, a suspension or "sign out everywhere" raises it, and a token is only good for the epoch it was
signed in. Tokens signed before epochs existed have no `ep` and count as epoch 0, the column's default,
so nobody is signed out by the upgrade itself.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ACCESS, MEDIA = "access", "media"

@dataclass(frozen=True)
class Claims:
    user_id: int
    scope: str
    media_id: int | None
    expires_at: int
    epoch: int


class TokenSigner:
    """Signs and verifies JWTs with the server secret. Only HS256 is ever accepted."""

    def __init__(self, secret: str, access_ttl_s: int, media_ttl_s: int) -> None:
        self._key = hashlib.sha256(b"medianest-jwt:" + secret.encode()).digest()
        self.access_ttl_s = access_ttl_s
        self.media_ttl_s = media_ttl_s

    def access_token(self, user_id: int, epoch: int) -> str:
        return self._sign({"sub": str(user_id), "scope": ACCESS, "ep": epoch}, self.access_ttl_s)

    def media_token(self, user_id: int, media_id: int, epoch: int) -> str:
        """Bound to one item so a leaked stream URL opens nothing else, and to the user's token epoch."""
        claims: dict[str, str | int] = {"sub": str(user_id), "scope": MEDIA, "mid": str(media_id), "ep": epoch}
        return self._sign(claims, self.media_ttl_s)

    def verify(self, token: str, scope: str) -> Claims | None:
        """The token's claims when it is valid for `scope`, else None."""
        try:
            payload = jwt.decode(token, self._key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
            if payload.get("scope") != scope:
                return None
            mid = payload.get("mid")
            return Claims(int(payload["sub"]), scope, int(mid) if mid else None, int(payload["exp"]),
                          int(payload.get("ep", 0)))
        except (jwt.PyJWTError, ValueError, TypeError):
            return None

    def _sign(self, claims: dict[str, str | int], ttl_s: int) -> str:
        now = int(time.time())
        return jwt.encode({**claims, "iat": now, "exp": now + ttl_s}, self._key, algorithm=ALGORITHM)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Refresh tokens are random with 256 bits, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()
