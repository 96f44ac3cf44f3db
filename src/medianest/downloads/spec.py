"""What a download child is asked to do (`Spec`) and how it can fail (`Failure`): plain data, apart from
yt_dlp itself, so the serving process can name them without importing yt-dlp (it loads in the children)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spec:
    """What to fetch and how; plain data so it can cross into the child process."""

    url: str
    mode: str = "video"
    quality: str = "best"
    audio_format: str | None = None
    audio_quality: str | None = None
    tmp_dir: str = "."
    ffmpeg_path: str | None = None
    max_filesize: int | None = None
    # Tags written into an audio file over what the site gives (album, artist, album_artist, track, date as
    # YYYY-MM-DD, genre, description, title): a subscription's or a playlist's name and position, a feed's
    # episode metadata.
    tags: dict[str, str] | None = field(default=None, hash=False)
    # SponsorBlock's segments of a YouTube video: "remove" cuts them out, "mark" makes them chapters.
    sponsorblock: str | None = None
    sponsorblock_api: str = "https://sponsor.ajay.app"


@dataclass(frozen=True)
class Failure(Exception):
    reason: str
    transient: bool
