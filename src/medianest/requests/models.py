"""Media requests made through Seerr, kept here with Seerr's id so their status can be followed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

PENDING, APPROVED, DECLINED, PROCESSING, AVAILABLE, FAILED = (
    "pending", "approved", "declined", "processing", "available", "failed")
STATUSES = (PENDING, APPROVED, DECLINED, PROCESSING, AVAILABLE, FAILED)
# Nothing more will happen to these at Seerr: the sync leaves them alone.
SETTLED = (DECLINED, AVAILABLE, FAILED)


class MediaRequest(IdMixin, Base):
    __tablename__ = "media_requests"
    __table_args__ = (Index("ix_media_requests_user_status", "user_id", "status"), AUTOINCREMENT)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    service_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("service_configs.id", ondelete="SET NULL"))
    seerr_id: Mapped[int | None] = mapped_column(Integer, index=True)
    media_type: Mapped[str] = mapped_column(String(8))
    tmdb_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(1024))
    year: Mapped[int | None] = mapped_column(Integer)
    poster_path: Mapped[str | None] = mapped_column(String(255))
    seasons: Mapped[list[int] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
