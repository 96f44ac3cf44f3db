"""The history of plays (each user's state of an item, `UserMedia`, is the library's: it shows in every item)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String
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


class NowPlaying(Base):
    """What a user's player is playing now (a Subsonic app's scrobble with submission=false, or a play
    started); one row per user and player, so getNowPlaying reads the same on every server process."""

    __tablename__ = "now_playing"

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    player: Mapped[str] = mapped_column(String(255), primary_key=True)
    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlayQueue(Base):
    """A user's saved play queue (Subsonic's savePlayQueue): the items in order, the current one by index,
    and where in it, so another device can take over."""

    __tablename__ = "play_queues"

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    media_ids: Mapped[list[int]] = mapped_column(JSON)
    current_index: Mapped[int | None] = mapped_column(Integer)
    position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(255), default="")
