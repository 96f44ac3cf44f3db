"""Playlists and their ordered items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow


class Playlist(IdMixin, Base):
    __tablename__ = "playlists"
    __table_args__ = AUTOINCREMENT

    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # True while an import fills the playlist in batches: nobody sees it until it is complete, and one
    # left behind by a process that died mid-import is dropped by a later import.
    importing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlaylistItem(IdMixin, Base):
    __tablename__ = "playlist_items"
    __table_args__ = (Index("ix_playlist_items_playlist_position", "playlist_id", "position"), AUTOINCREMENT)

    playlist_id: Mapped[int] = mapped_column(IdType, ForeignKey("playlists.id", ondelete="CASCADE"))
    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"), index=True)
    # 0-based and contiguous within a playlist; the service keeps it so.
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
