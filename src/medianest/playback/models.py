"""The history of plays (each user's state of an item, `UserMedia`, is the library's: it shows in every item)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow


class Play(IdMixin, Base):
    __tablename__ = "plays"
    __table_args__ = (Index("ix_plays_user_played_at", "user_id", "played_at"), AUTOINCREMENT)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"), index=True)
    played_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    position_s: Mapped[float | None] = mapped_column(Float)
    listened_s: Mapped[float | None] = mapped_column(Float)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
