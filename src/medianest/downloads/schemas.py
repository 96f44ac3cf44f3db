"""Request and response bodies of /api/v1/downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from medianest.downloads.models import Download, DownloadItem
from medianest.inputs import Input

Quality = Literal["best", "2160p", "1440p", "1080p", "720p", "480p", "360p"]
AudioFormat = Literal["mp3", "m4a", "opus", "flac"]
AUDIO_FORMATS = ("mp3", "m4a", "opus", "flac")
Status = Literal["queued", "running", "completed", "failed", "canceled"]


# What the schema can say about a download URL; the rest (a public host, the allow-list) is checked
# by `safety.check_url` and refused with the same 422.
URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://\S+\s*$"


class DownloadIn(Input):
    url: str = Field(min_length=1, max_length=2048, pattern=URL_PATTERN,
                     description="an http(s) URL of a public site (private addresses are refused)")
    mode: Literal["video", "audio"] = "video"
    quality: Quality = "best"
    audio_format: AudioFormat | None = Field(default=None, description="audio mode: mp3 unless chosen")
    audio_quality: str | None = Field(default=None, pattern=r"^([0-9]|[1-9][0-9]{1,3})k?$",
                                      description="audio mode: a bitrate in kbit/s (e.g. 192) or a VBR level 0-9")
    playlist_limit: int | None = Field(default=None, ge=1, le=5000, description="at most this many entries")


class DownloadItemOut(BaseModel):
    id: str
    position: int
    url: str
    title: str | None
    media_id: str | None

    @classmethod
    def of(cls, item: DownloadItem) -> DownloadItemOut:
        return cls(id=str(item.id), position=item.position, url=item.url, title=item.title,
                   media_id=None if item.media_id is None else str(item.media_id))


class DownloadOut(BaseModel):
    id: str
    user_id: str
    url: str
    mode: Literal["video", "audio"]
    quality: str
    audio_format: str | None
    audio_quality: str | None
    status: Status
    phase: str | None
    title: str | None
    percent: float
    downloaded_bytes: int
    total_bytes: int | None
    speed_bps: float | None
    eta_s: float | None
    attempts: int
    error: str | None
    subscription_id: str | None = Field(description="the subscription that queued it, if one did")
    media_ids: list[str]
    items: list[DownloadItemOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, dl: Download, items: list[DownloadItem]) -> DownloadOut:
        return cls(id=str(dl.id), user_id=str(dl.user_id), url=dl.url, mode=dl.mode,
                   quality=dl.quality, audio_format=dl.audio_format, audio_quality=dl.audio_quality,
                   status=dl.status, phase=dl.phase, title=dl.title, percent=dl.percent,
                   downloaded_bytes=dl.downloaded_bytes, total_bytes=dl.total_bytes, speed_bps=dl.speed_bps,
                   eta_s=dl.eta_s, attempts=dl.attempts, error=dl.error,
                   subscription_id=None if dl.subscription_id is None else str(dl.subscription_id),
                   media_ids=[str(i.media_id) for i in items if i.media_id is not None],
                   items=[DownloadItemOut.of(i) for i in items], created_at=dl.created_at,
                   started_at=dl.started_at, finished_at=dl.finished_at)


class PreviewEntry(BaseModel):
    url: str
    title: str | None
    id: str
    duration_s: float | None


class PreviewOut(BaseModel):
    url: str | None
    title: str | None
    duration_s: float | None
    thumbnail: str | None
    channel: str | None
    views: int | None
    uploaded_at: str | None = Field(description="the upload date (ISO 8601), when the site tells")
    site: str
    is_playlist: bool
    qualities: list[str]
    audio_formats: list[str]
    entries: list[PreviewEntry]

    @classmethod
    def of(cls, info: dict[str, Any], audio_formats: list[str]) -> PreviewOut:
        keys = ("url", "title", "duration_s", "thumbnail", "channel", "views", "uploaded_at", "site",
                "is_playlist", "qualities", "entries")
        return cls(**{k: info.get(k) for k in keys}, audio_formats=audio_formats)


class ClearedOut(BaseModel):
    removed: int
