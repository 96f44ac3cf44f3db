"""Argon2 password hashing (pwdlib) at the cost Settings gives, and the password rules.

One `Passwords` per app (or CLI command), built from Settings at start-up. It travels with the app's
session factory (`attach`), so every accounts function that has a session finds it (`Passwords.of`):
the admin routes call accounts/users.py with nothing but a session.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.errors import InvalidInput

if TYPE_CHECKING:
    from medianest.config import Settings
    from medianest.db.engine import SessionFactory

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

_SESSION_INFO_KEY = "medianest.passwords"


class Passwords:
    """Hashes new passwords at the configured Argon2 cost; verifies any Argon2 hash (each one carries
    its own parameters, so hashes made at another cost keep verifying)."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self.hasher = PasswordHash((argon2,))
        # Verified against when the user does not exist, so a miss costs as much time as a wrong password.
        self._dummy_hash = self.hasher.hash("medianest-timing-equaliser")

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(settings.password_hash_time_cost, settings.password_hash_memory_kib,
                   settings.password_hash_parallelism)

    def attach(self, sessions: SessionFactory) -> SessionFactory:
        """Make every session of `sessions` carry this object (see `of`); returns `sessions`."""
        sessions.configure(info={_SESSION_INFO_KEY: self})
        return sessions

    @staticmethod
    def of(session: AsyncSession) -> Passwords:
        """The Passwords attached to the factory that made `session`."""
        found = session.info.get(_SESSION_INFO_KEY)
        if not isinstance(found, Passwords):
            raise RuntimeError("this session's factory has no Passwords: Passwords.from_settings(s).attach(factory)")
        return found

    async def hash(self, password: str) -> str:
        # Argon2 is deliberately slow (tens of ms, far more on a busy box): keep it off the event loop.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Constant-time check; also spends the same time when there is no hash at all."""
        return await asyncio.to_thread(self._verify, password, password_hash)

    def _verify(self, password: str, password_hash: str | None) -> bool:
        if password_hash is None:
            self.hasher.verify(password, self._dummy_hash)
            return False
        return self.hasher.verify(password, password_hash)


def check_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")
