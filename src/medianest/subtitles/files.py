"""Subtitle files beside a video, and the streams inside it.

Sidecars follow the naming Plex, Jellyfin and Kodi read: `Movie.srt`, `Movie.en.srt`,
`Movie.eng.forced.srt`, `Movie.en.sdh.ass` - the video's name, then optional tags, then the format.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medianest.errors import BadRequest

NAME_MAX = 255  # bytes in one file name on every common file system
SIDECAR_FORMATS = {".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ssa"}
# Embedded streams ffmpeg can turn into WebVTT; picture-based ones (PGS, VobSub) cannot be.
TEXT_CODECS = {"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"}
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", re.IGNORECASE)
_FORCED, _SDH = {"forced"}, {"sdh", "cc", "hi"}


@dataclass(frozen=True)
class Found:
    path: str | None
    stream_index: int | None
    format: str
    language: str | None
    title: str | None
    forced: bool
    hearing_impaired: bool


def sidecars(video: Path) -> list[Found]:
    """The subtitle files beside `video` that are named after it."""
    stem = video.stem
    try:
        names = os.listdir(video.parent)
    except OSError:
        return []
    return [_sidecar(video.parent / name, name[len(stem):]) for name in sorted(names)
            if name.startswith(stem + ".") and Path(name).suffix.lower() in SIDECAR_FORMATS]


def _sidecar(path: Path, rest: str) -> Found:
    """`rest` is what follows the video's name, e.g. ".en.forced.srt"."""
    tags = [t.lower() for t in rest.split(".")[1:-1]]
    language = next((t for t in tags if _LANGUAGE.match(t) and t not in _SDH), None)
    return Found(path=str(path), stream_index=None, format=SIDECAR_FORMATS[path.suffix.lower()], language=language,
                 title=None, forced=bool(_FORCED & set(tags)), hearing_impaired=bool(_SDH & set(tags)))


def embedded(video: Path) -> list[Found]:
    """The subtitle streams inside `video` (an unreadable file has none)."""
    import av  # PyAV: loaded by the first video indexed, not at start-up

    try:
        with av.open(str(video)) as container:
            return [_stream(s) for s in container.streams.subtitles]
    except (av.FFmpegError, OSError, ValueError):
        return []


def _stream(stream: Any) -> Found:
    meta = {k.lower(): v for k, v in (stream.metadata or {}).items()}
    codec = stream.codec_context.name if stream.codec_context else "unknown"
    disposition = str(getattr(stream, "disposition", ""))
    return Found(path=None, stream_index=stream.index, format=codec[:16], language=meta.get("language"),
                 title=meta.get("title"), forced="forced" in disposition.lower(),
                 hearing_impaired="hearing_impaired" in disposition.lower())


def free_name(video: Path, language: str | None, suffix: str) -> Path:
    """Where a downloaded subtitle goes: `Movie.en.srt`, or `Movie.en.2.srt` if that is taken."""
    tag = f".{language}" if language and _LANGUAGE.match(language) else ""
    for n in range(1, 100):
        name = f"{video.stem}{tag}{'' if n == 1 else f'.{n}'}{suffix}"
        if len(name.encode()) > NAME_MAX:
            raise BadRequest("the video's file name is too long to put a subtitle beside it")
        candidate = video.parent / name
        if not candidate.exists():
            return candidate
    raise FileExistsError("too many subtitles of this language beside the video")
