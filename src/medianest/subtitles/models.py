"""Subtitles of a video: sidecar files beside it (found by the scanner or downloaded from OpenSubtitles)
and the subtitle streams inside it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

SIDECAR, EMBEDDED = "sidecar", "embedded"


class Subtitle(IdMixin, Base):
    __tablename__ = "subtitles"
    __table_args__ = (UniqueConstraint("media_id", "path", name="uq_subtitles_media_path"),
                      UniqueConstraint("media_id", "stream_index", name="uq_subtitles_media_stream"), AUTOINCREMENT)

    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(Text)  # sidecars
    stream_index: Mapped[int | None] = mapped_column(Integer)  # embedded streams
    format: Mapped[str] = mapped_column(String(16))  # srt, vtt, ass, ssa; subrip, mov_text, hdmv_pgs_subtitle...
    language: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(255))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    hearing_impaired: Mapped[bool] = mapped_column(Boolean, default=False)
    provider: Mapped[str | None] = mapped_column(String(32))  # "opensubtitles" when downloaded from there
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
