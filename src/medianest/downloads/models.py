"""Downloads: one row per user request (a URL), one item per file it yields (a playlist has many).

The job state lives here, not in the queue: huey only carries "run download N". A worker claims a
download by moving it from queued to running and keeps `heartbeat_at` fresh while it works, so a
download whose worker died (kill -9, a lost machine) is seen as stale and queued again. Each claim writes
a new `claim` token: a worker that only looked dead learns from it that its download was taken back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

QUEUED, RUNNING, COMPLETED, FAILED, CANCELED = "queued", "running", "completed", "failed", "canceled"
FINISHED = (COMPLETED, FAILED, CANCELED)
MODE_VIDEO, MODE_AUDIO = "video", "audio"
# What a download fetches: media through yt-dlp, or speech made from a text (speech/).
KIND_MEDIA, KIND_SPEECH = "media", "speech"
PHASE_DOWNLOADING, PHASE_PROCESSING = "downloading", "processing"


class Download(IdMixin, Base):
    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_user_status", "user_id", "status"), AUTOINCREMENT)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(8), default=MODE_VIDEO)
    quality: Mapped[str] = mapped_column(String(8), default="best")
    audio_format: Mapped[str | None] = mapped_column(String(8))
    audio_quality: Mapped[str | None] = mapped_column(String(8))
    playlist_limit: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    phase: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(1024))
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    downloaded_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    speed_bps: Mapped[float | None] = mapped_column(Float)
    eta_s: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8), default=KIND_MEDIA, server_default=KIND_MEDIA)
    # Set when a subscription queued it (subscriptions/); its item follows the download's outcome.
    subscription_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True)
    # Tags written into the file over what the site gives (album, artist, track, date, genre, description):
    # a subscription's name as the album, a feed's episode metadata. The scanner reads them back.
    tags: Mapped[dict[str, str] | None] = mapped_column(JSON)
    sponsorblock: Mapped[str | None] = mapped_column(String(8))  # "remove" or "mark" (as chapters)


class DownloadItem(IdMixin, Base):
    """One file of a download; `media_id` is set when it is in the library (downloaded or linked)."""

    __tablename__ = "download_items"
    __table_args__ = AUTOINCREMENT

    download_id: Mapped[int] = mapped_column(IdType, ForeignKey("downloads.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(1024))
    source_site: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(255))
    media_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("media.id", ondelete="SET NULL"))
    # The key its file is uploaded to when downloads land in a bucket, chosen once (migration 0012).
    target: Mapped[str | None] = mapped_column(Text)
