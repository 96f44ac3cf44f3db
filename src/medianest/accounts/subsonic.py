"""Each user's Subsonic password: a second secret, apart from the login password, for Subsonic apps.

Subsonic's token auth sends t = md5(password + salt), which the server can check only if it can read the
password back; login passwords are Argon2 hashes, so each user gets this separate one, kept sealed by
`SecretBox` and bound to the user's row (a blob copied onto another user's row does not open). The login
password is never kept in reversible form.

A login password change, a suspension (the Subsonic API refuses suspended users itself) and "sign out
everywhere" leave it alone; deleting the user deletes it with the row.
"""

from __future__ import annotations

import secrets
import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.audit.service import record
from medianest.errors import InvalidInput
from medianest.security.crypto import SecretBox, SecretUnreadable

MIN_LENGTH, MAX_LENGTH = 8, 128
# The rule `check_rules` applies, as a JSON Schema pattern for the OpenAPI document: no C0 or C1 control
# characters (an app's password field cannot type them, and some clients put the password in a URL).
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"
# Generated passwords are typed into phone apps by hand as often as pasted: letters and digits without
# the look-alikes 0/O/o and 1/l/I, in dash-separated groups. 4 x 6 characters of 56: about 139 bits.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
GROUPS, GROUP_LENGTH = 4, 6
# Unicode categories refused: control characters, and lone surrogates (JSON can carry them, UTF-8 cannot).
_REFUSED = {"Cc", "Cs"}


def generate() -> str:
    """A new random password, e.g. "Xk7pQ2-mZr9Ha-..." (29 characters)."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))


def problem(password: str) -> str | None:
    """Why `password` cannot be a Subsonic password (8..128 characters, no control characters), or None."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters"
    if any(unicodedata.category(c) in _REFUSED for c in password):
        return "must not contain control characters"
    return None


def check_rules(password: str) -> None:
    if reason := problem(password):
        raise InvalidInput("password", reason)


def seal_context(user_id: int) -> str:
    """Bound into the sealed password: it opens only on its own user's row."""
    return f"user:{user_id}:subsonic"


async def set_password(session: AsyncSession, box: SecretBox, user: User, password: str | None) -> str:
    """Set `user`'s Subsonic password to `password` (checked by `check_rules`), or to a generated one when
    None; commits, with an audit entry, and returns the password in clear (for the caller to show once)."""
    generated = password is None
    if password is None:
        password = generate()
    check_rules(password)
    user.subsonic_password = box.seal(password, seal_context(user.id))
    record(session, "subsonic_password.set", user, target=f"user:{user.id}", generated=generated)
    await session.commit()
    return password


def read_password(box: SecretBox, user: User) -> str | None:
    """`user`'s Subsonic password in clear; None when none is set or it cannot be opened (sealed by a key
    the server no longer has, or altered), which a sign-in treats as a wrong password."""
    if user.subsonic_password is None:
        return None
    try:
        return box.open(user.subsonic_password, seal_context(user.id))
    except SecretUnreadable:
        return None


def has_password(user: User) -> bool:
    return user.subsonic_password is not None


async def clear_password(session: AsyncSession, user: User) -> None:
    """Remove `user`'s Subsonic password (their Subsonic apps stop signing in); nothing to do when unset."""
    if user.subsonic_password is None:
        return
    user.subsonic_password = None
    record(session, "subsonic_password.delete", user, target=f"user:{user.id}")
    await session.commit()
