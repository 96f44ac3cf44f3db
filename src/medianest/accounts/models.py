"""Users and their refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

ROLE_ADMIN, ROLE_USER = "admin", "user"
STATUS_ACTIVE, STATUS_SUSPENDED = "active", "suspended"


class User(IdMixin, Base):
    __tablename__ = "users"
    # SQLite would otherwise hand a deleted user's id to the next account, and with it whatever still
    # names that id: unexpired tokens, stream URLs, Socket.IO rooms.
    __table_args__ = AUTOINCREMENT

    username: Mapped[str] = mapped_column(String(64))
    # Lower-cased copy so "Alice" and "alice" cannot both exist.
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_USER)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    # Every access and media token carries the epoch it was signed in; raising it (a password change,
    # suspension, "sign out everywhere") makes all tokens signed before it stop working at once.
    token_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set for accounts signed in with Plex; the token is sealed by `SecretBox` (never stored in clear).
    plex_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    plex_username: Mapped[str | None] = mapped_column(String(255))
    plex_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The password Subsonic apps sign in with (token auth needs it readable), sealed by `SecretBox`.
    subsonic_password: Mapped[bytes | None] = mapped_column(LargeBinary)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


class RefreshToken(IdMixin, Base):
    """One refresh token; tokens rotated from the same login share a family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family"), AUTOINCREMENT)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the session began, shown in the caller's session list.
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class ApiKey(IdMixin, Base):
    """A per-user key for scripts and apps (`X-Api-Key`); only its SHA-256 is kept."""

    __tablename__ = "api_keys"
    __table_args__ = AUTOINCREMENT

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlexPin(IdMixin, Base):
    """A Plex sign-in in progress. Clients poll it by `handle`, an unguessable id of ours: plex.tv's own
    pin ids are sequential, and every pin of this server shares one client identifier."""

    __tablename__ = "plex_pins"
    __table_args__ = AUTOINCREMENT

    handle: Mapped[str] = mapped_column(String(64), unique=True)
    plex_pin_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once the pin has signed someone in: a pin yields tokens once.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
