"""File types the library knows: extension -> (kind, container, MIME type)."""

from __future__ import annotations

from typing import NamedTuple


class Format(NamedTuple):
    kind: str
    container: str
    mime: str


FORMATS: dict[str, Format] = {
    ".mp3": Format("audio", "mp3", "audio/mpeg"),
    ".m4a": Format("audio", "mp4", "audio/mp4"),
    ".m4b": Format("audio", "mp4", "audio/mp4"),
    ".aac": Format("audio", "aac", "audio/aac"),
    ".flac": Format("audio", "flac", "audio/flac"),
    ".ogg": Format("audio", "ogg", "audio/ogg"),
    ".oga": Format("audio", "ogg", "audio/ogg"),
    ".opus": Format("audio", "ogg", "audio/ogg"),
    ".wav": Format("audio", "wav", "audio/wav"),
    ".aif": Format("audio", "aiff", "audio/aiff"),
    ".aiff": Format("audio", "aiff", "audio/aiff"),
    ".wma": Format("audio", "asf", "audio/x-ms-wma"),
    ".wv": Format("audio", "wavpack", "audio/x-wavpack"),
    ".ape": Format("audio", "ape", "audio/x-ape"),
    ".mka": Format("audio", "matroska", "audio/x-matroska"),
    ".mp4": Format("video", "mp4", "video/mp4"),
    ".m4v": Format("video", "mp4", "video/mp4"),
    ".mov": Format("video", "mov", "video/quicktime"),
    ".mkv": Format("video", "matroska", "video/x-matroska"),
    ".webm": Format("video", "webm", "video/webm"),
    ".avi": Format("video", "avi", "video/x-msvideo"),
    ".wmv": Format("video", "asf", "video/x-ms-wmv"),
    ".flv": Format("video", "flv", "video/x-flv"),
    ".ts": Format("video", "mpegts", "video/mp2t"),
    ".m2ts": Format("video", "mpegts", "video/mp2t"),
    ".mpg": Format("video", "mpeg", "video/mpeg"),
    ".mpeg": Format("video", "mpeg", "video/mpeg"),
    ".3gp": Format("video", "3gp", "video/3gpp"),
    ".ogv": Format("video", "ogg", "video/ogg"),
}

# A container that turns out to hold no picture is served with its audio MIME type.
AUDIO_ONLY_MIME = {"video/mp4": "audio/mp4", "video/webm": "audio/webm", "video/x-matroska": "audio/x-matroska",
                   "video/ogg": "audio/ogg", "video/quicktime": "audio/mp4"}


def format_of(name: str) -> Format | None:
    dot = name.rfind(".")
    return FORMATS.get(name[dot:].lower()) if dot >= 0 else None
