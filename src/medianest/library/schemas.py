"""Shapes of the library API: media items (with the caller's own state), artists, albums, scans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from medianest.accounts.tokens import TokenSigner
from medianest.inputs import Input
from medianest.library.folders import Offline
from medianest.library.models import Media, Scan, UserMedia

SortField = Literal["title", "artist", "album", "added_at", "play_count", "last_played_at", "duration",
                    "uploaded_at"]


class MediaOut(BaseModel):
    id: str
    kind: Literal["audio", "video"]
    title: str
    artist: str | None
    album: str | None
    album_artist: str | None
    track: int | None
    disc: int | None
    year: int | None
    genre: str | None
    duration_s: float | None
    mime: str
    size: int
    width: int | None
    height: int | None
    container: str | None
    audio_codec: str | None
    video_codec: str | None
    bitrate: int | None
    added_at: datetime
    source_url: str | None
    channel: str | None
    uploaded_at: datetime | None = Field(description="when the source published it (a download's site, a "
                                                     "podcast feed's date for the episode)")
    description: str | None = Field(description="the notes in the file's tags (a podcast episode's show "
                                                "notes, a video's description), lines kept")
    liked: bool
    play_count: int
    last_played_at: datetime | None
    position_s: float | None
    stream_url: str
    artwork_url: str | None
    available: bool = Field(description="false while the item's folder is offline (not mounted, missing, "
                                        "unreadable): it is kept, but cannot be played until the folder is back")
    unavailable_reason: str | None = Field(description="why it is unavailable, as a sentence for people")


@dataclass(frozen=True)
class Viewer:
    """Whom media items are rendered for: byte URLs are signed for this user at their token epoch (so a
    password change or sign-out everywhere voids them), and items of offline folders are unavailable."""

    user_id: int
    epoch: int
    signer: TokenSigner
    offline: Offline


def media_out(media: Media, state: UserMedia | None, viewer: Viewer) -> MediaOut:
    """A media item as one user sees it, with byte URLs signed for that user and item."""
    token = viewer.signer.media_token(viewer.user_id, media.id, viewer.epoch)
    base = f"/api/v1/media/{media.id}"
    unavailable = viewer.offline.reason_for(media.path)
    return MediaOut(
        id=str(media.id), kind=media.kind,
        title=media.title, artist=media.artist, album=media.album, album_artist=media.album_artist,
        track=media.track, disc=media.disc, year=media.year, genre=media.genre, duration_s=media.duration_s,
        mime=media.mime, size=media.size, width=media.width, height=media.height, container=media.container,
        audio_codec=media.audio_codec, video_codec=media.video_codec, bitrate=media.bitrate,
        added_at=media.added_at, source_url=media.source_url, channel=media.channel,
        uploaded_at=media.uploaded_at, description=media.description,
        liked=bool(state and state.liked), play_count=state.play_count if state else 0,
        last_played_at=state.last_played_at if state else None, position_s=state.position_s if state else None,
        stream_url=f"{base}/stream?token={token}",
        artwork_url=f"{base}/artwork?token={token}" if media.artwork else None,
        available=unavailable is None, unavailable_reason=unavailable,
    )


class MediaPatch(Input):
    title: str | None = Field(default=None, min_length=1, max_length=1024)
    artist: str | None = Field(default=None, max_length=1024)
    album: str | None = Field(default=None, max_length=1024)
    album_artist: str | None = Field(default=None, max_length=1024)
    track: int | None = Field(default=None, ge=0, le=100000)
    disc: int | None = Field(default=None, ge=0, le=1000)
    year: int | None = Field(default=None, ge=0, le=9999)
    genre: str | None = Field(default=None, max_length=255)


class NameCount(BaseModel):
    name: str
    media_count: int


class AlbumOut(BaseModel):
    name: str
    artist: str | None
    year: int | None
    media_count: int
    duration_s: float | None


class OfflineFolderOut(BaseModel):
    path: str
    reason: str


class ScanOut(BaseModel):
    id: str
    status: Literal["queued", "running", "completed", "failed", "interrupted"] = Field(
        description="interrupted: the process running it stopped (killed, shut down) before it finished")
    total: int
    processed: int
    added: int
    updated: int
    removed: int
    failed: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    offline_folders: list[OfflineFolderOut] = Field(
        description="folders this scan found offline (missing, unreadable, or empty while the library has "
                    "items from them); their items were kept, not removed")

    @classmethod
    def of(cls, scan: Scan) -> ScanOut:
        return cls(id=str(scan.id), status=scan.status,
                   total=scan.total, processed=scan.processed, added=scan.added, updated=scan.updated,
                   removed=scan.removed, failed=scan.failed, error=scan.error, created_at=scan.created_at,
                   started_at=scan.started_at, finished_at=scan.finished_at, heartbeat_at=scan.heartbeat_at,
                   offline_folders=[OfflineFolderOut(**f) for f in scan.offline_folders or []])


class FolderOut(BaseModel):
    path: str
    exists: bool
    status: Literal["online", "offline", "unknown"] = Field(
        description="as the last scan found it (unknown before any scan): offline when missing, unreadable, "
                    "or empty while the library has items from it")
    reason: str | None = Field(description="why it is offline")
    offline_since: datetime | None
    checked_at: datetime | None
    media_count: int
    unavailable_count: int = Field(description="items kept from offline folders (this one or inside it)")
    offline_inside: list[OfflineFolderOut] = Field(
        description="folders inside this one that could not be read; their items are kept, unavailable")
    unreadable: list[UnreadableOut]


class UnreadableOut(BaseModel):
    path: str
    reason: str
