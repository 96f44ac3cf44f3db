"""Service connections (Plex, Seerr, Uptime Kuma, OpenSubtitles, Google Cloud Text-to-Speech, any HTTP
service), their check history, the Uptime Kuma monitors imported onto the board, and the folders waiting for
a Plex refresh."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

KINDS = ("plex", "seerr", "uptime_kuma", "opensubtitles", "google_tts", "generic_http")
UP, DOWN, DEGRADED, UNKNOWN = "up", "down", "degraded", "unknown"


class ServiceConfig(IdMixin, Base):
    """A connection an admin configured (or the environment seeded). `secret` is sealed (SecretBox) with
    the row's id as context; the last check's outcome is kept on the row for the board and /health."""

    __tablename__ = "service_configs"
    # AUTOINCREMENT on SQLite: a deleted connection's id (its audit trail, its sealing context) is never
    # handed to a new one.
    __table_args__ = AUTOINCREMENT

    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)  # from MEDIANEST_* variables
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=UNKNOWN)
    response_ms: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(String(500))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Claimed by the check that runs next: several schedulers (server processes, workers) check once.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServiceCheck(IdMixin, Base):
    """One check of a connection, or one imported Kuma heartbeat (`monitor_id` set): the uptime history."""

    __tablename__ = "service_checks"
    __table_args__ = (Index("ix_service_checks_service_at", "service_id", "monitor_id", "checked_at"), AUTOINCREMENT)

    service_id: Mapped[int] = mapped_column(IdType, ForeignKey("service_configs.id", ondelete="CASCADE"))
    monitor_id: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    response_ms: Mapped[float | None] = mapped_column(Float)


class StatusMonitor(IdMixin, Base):
    """A monitor of an Uptime Kuma status page, as last imported; `uptime_24h` is Kuma's own figure (its
    public API gives no longer one: the 7-day uptime comes from the heartbeats imported into the history)."""

    __tablename__ = "status_monitors"
    __table_args__ = (UniqueConstraint("service_id", "monitor_id"), AUTOINCREMENT)

    service_id: Mapped[int] = mapped_column(IdType, ForeignKey("service_configs.id", ondelete="CASCADE"))
    monitor_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    group_name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=UNKNOWN)
    ping_ms: Mapped[float | None] = mapped_column(Float)
    uptime_24h: Mapped[float | None] = mapped_column(Float)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlexRefresh(IdMixin, Base):
    """A folder with new or removed files that Plex should rescan; refreshed once the requests settle."""

    __tablename__ = "plex_refreshes"
    __table_args__ = AUTOINCREMENT

    folder: Mapped[str] = mapped_column(Text, unique=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
