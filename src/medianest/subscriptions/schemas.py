"""Request and response bodies of /api/v1/subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from medianest.downloads.schemas import URL_PATTERN, AudioFormat, Quality
from medianest.inputs import Input
from medianest.subscriptions.models import Subscription

Kind = Literal["channel", "playlist", "feed"]
SponsorBlock = Literal["remove", "mark"]
PATTERN_HELP = "words or phrases separated by |, matched case-insensitively anywhere in the title"
DAY_S = 24 * 3600


class RuleIn(Input):
    """What a subscription downloads and keeps; every field may be changed later (PATCH)."""

    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="shown in the list and used as the album; the source's title if unset")
    mode: Literal["video", "audio"] | None = None
    quality: Quality | None = None
    audio_format: AudioFormat | None = None
    keep_last: int | None = Field(default=None, ge=1, le=10_000, description="keep only the newest N downloaded")
    max_age_days: int | None = Field(default=None, ge=1, le=36_500,
                                     description="skip, and remove, entries older than this")
    include: str | None = Field(default=None, max_length=500, description=f"download only titles with: {PATTERN_HELP}")
    exclude: str | None = Field(default=None, max_length=500, description=f"never titles with: {PATTERN_HELP}")
    sponsorblock: SponsorBlock | None = Field(default=None,
                                              description="SponsorBlock segments removed, or marked as chapters")
    interval_s: int | None = Field(default=None, ge=60, le=30 * DAY_S, description="seconds between checks")
    enabled: bool | None = None


class SubscriptionIn(RuleIn):
    url: str = Field(min_length=1, max_length=2048, pattern=URL_PATTERN,
                     description="a channel, a playlist, or a podcast's RSS/Atom feed")
    backfill: int = Field(default=0, ge=0, le=5000,
                          description="on the first check, download this many of the newest entries already there "
                                      "(the rest are only indexed)")


class SubscriptionPatch(RuleIn):
    new_feed_token: bool = Field(default=False, description="revoke the private feed URL given out and make a new one")


class SubscriptionOut(BaseModel):
    id: str
    url: str
    kind: Kind
    name: str
    description: str | None
    image_url: str | None
    mode: Literal["video", "audio"]
    quality: str
    audio_format: str | None
    keep_last: int | None
    max_age_days: int | None
    include: str | None
    exclude: str | None
    sponsorblock: str | None
    backfill: int
    interval_s: int
    enabled: bool
    checking: bool = Field(description="a check is running now")
    created_at: datetime
    checked_at: datetime | None
    next_check_at: datetime
    last_error: str | None
    last_found: int = Field(description="new entries the last check found")
    items: dict[str, int] = Field(description="entries by state: seen, skipped, queued, done, failed, pruned")
    feed_url: str = Field(description="a private RSS feed of what it downloaded, for any podcast app (keep it secret)")

    @classmethod
    def of(cls, sub: Subscription, items: dict[str, int], feed_url: str, now: datetime) -> SubscriptionOut:
        fields = ("url", "kind", "name", "description", "image_url", "mode", "quality", "audio_format", "keep_last",
                  "max_age_days", "include", "exclude", "sponsorblock", "backfill", "interval_s", "enabled",
                  "created_at", "checked_at", "next_check_at", "last_error", "last_found")
        return cls(id=str(sub.id), **{f: getattr(sub, f) for f in fields}, items=items, feed_url=feed_url,
                   checking=sub.checking_until is not None and sub.checking_until > now)
