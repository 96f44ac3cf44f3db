"""Subscriptions and what each has seen.

A subscription is checked on its own interval: `next_check_at` says when, and a check first takes a lease
(`checking_until`, with its own `check_token`) in one UPDATE, so two workers that wake at the same moment
never check the same subscription twice. Each entry a source lists becomes one `SubscriptionItem`, unique
on (subscription, source_key): an entry is inserted once, by whoever gets there first, and only that
insert queues its download. So nothing is downloaded twice, however many checks overlap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

CHANNEL, PLAYLIST, FEED = "channel", "playlist", "feed"
SOURCE_KINDS = (CHANNEL, PLAYLIST, FEED)
# An item's life: `seen` (indexed by a first check, not downloaded), `skipped` (left out by the title
# patterns or the age rule), `queued` (its download is in the queue), `done` (in the library), `failed`,
# `pruned` (removed by the keep rule, never downloaded again).
SEEN, SKIPPED, QUEUED, DONE, FAILED, PRUNED = "seen", "skipped", "queued", "done", "failed", "pruned"


class Subscription(IdMixin, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "url"), Index("ix_subscriptions_next_check", "next_check_at"),
                      AUTOINCREMENT)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    # The rule: what to download, how, and what to keep.
    mode: Mapped[str] = mapped_column(String(8))
    quality: Mapped[str] = mapped_column(String(8), default="best")
    audio_format: Mapped[str | None] = mapped_column(String(8))
    keep_last: Mapped[int | None] = mapped_column(Integer)
    max_age_days: Mapped[int | None] = mapped_column(Integer)
    include: Mapped[str | None] = mapped_column(String(500))
    exclude: Mapped[str | None] = mapped_column(String(500))
    sponsorblock: Mapped[str | None] = mapped_column(String(8))
    backfill: Mapped[int] = mapped_column(Integer, default=0)  # entries a first check downloads
    interval_s: Mapped[int] = mapped_column(Integer, default=3600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The check's own state.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checking_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_found: Mapped[int] = mapped_column(Integer, default=0)
    # A feed's validators, sent back so an unchanged feed costs a 304.
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    # Part of the private RSS feed's token: a new value revokes every URL given out before.
    feed_secret: Mapped[str] = mapped_column(String(64))


class SubscriptionItem(IdMixin, Base):
    __tablename__ = "subscription_items"
    __table_args__ = (UniqueConstraint("subscription_id", "source_key"),
                      Index("ix_subscription_items_published", "subscription_id", "published_at"), AUTOINCREMENT)

    subscription_id: Mapped[int] = mapped_column(IdType, ForeignKey("subscriptions.id", ondelete="CASCADE"))
    source_key: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[int | None] = mapped_column(Integer)  # in the playlist, for the track number
    state: Mapped[str] = mapped_column(String(8))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    download_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("downloads.id", ondelete="SET NULL"))
    media_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("media.id", ondelete="SET NULL"), index=True)
