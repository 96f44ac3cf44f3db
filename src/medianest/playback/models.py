"""Per-user state of a media item, and the history of plays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow


class UserMedia(Base):
    __tablename__ = "user_media"
    __table_args__ = (
        Index("ix_user_media_user_liked", "user_id", "liked"),
        Index("ix_user_media_user_last_played", "user_id", "last_played_at"),
    )

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"),
                                          primary_key=True)
    liked: Mapped[bool] = mapped_column(Boolean, default=False)
    liked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    last_played_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position_s: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Play(IdMixin, Base):
    __tablename__ = "plays"
    __table_args__ = (Index("ix_plays_user_played_at", "user_id", "played_at"), AUTOINCREMENT)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"), index=True)
    played_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    position_s: Mapped[float | None] = mapped_column(Float)
    listened_s: Mapped[float | None] = mapped_column(Float)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
