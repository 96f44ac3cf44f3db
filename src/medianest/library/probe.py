"""Read one media file: tags via mutagen, stream facts via PyAV where mutagen cannot, cover or thumbnail.

`probe(path)` is pure (no DB, no writes) so the scanner and the downloader share it.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import mutagen
from mutagen.flac import Picture

from medianest.library.formats import AUDIO_ONLY_MIME, Format, format_of

MAX_TEXT = 1024
THUMBNAIL_WIDTH = 480
# mutagen reads these formats' stream info well; everything else goes to PyAV for facts.
MUTAGEN_AUDIO = {"mp3", "mp4", "flac", "ogg", "wav", "aiff", "asf", "wavpack", "ape", "aac"}


class Unreadable(Exception):
    """The file is not media we can read; `reason` is shown to the admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ProbeResult:
    kind: str
    container: str
    mime: str
    title: str
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    track: int | None = None
    disc: int | None = None
    year: int | None = None
    genre: str | None = None
    duration_s: float | None = None
    audio_codec: str | None = None
    video_codec: str | None = None
    bitrate: int | None = None
    width: int | None = None
    height: int | None = None
    artwork: bytes | None = field(default=None, repr=False)
    # The artwork cache's file name, set by whoever stores `artwork`.
    artwork_name: str | None = None

    def search_text(self) -> str:
        return search_text(self.title, self.artist, self.album, self.album_artist, self.genre)


def search_text(*parts: str | None) -> str:
    """Lower-case, diacritics-free text that both search backends index."""
    return fold(" ".join(p for p in parts if p))


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def probe(path: Path, size: int | None = None) -> ProbeResult:
    fmt = format_of(path.name)
    if fmt is None:
        raise Unreadable("not a media file type")
    if (size if size is not None else path.stat().st_size) == 0:
        raise Unreadable("empty file (0 bytes)")
    result = ProbeResult(kind=fmt.kind, container=fmt.container, mime=fmt.mime, title=title_from_name(path))
    tags_read = fmt.kind == "audio" and fmt.container in MUTAGEN_AUDIO and _read_mutagen(path, result)
    if not tags_read:
        _read_av(path, fmt, result, want_tags=not tags_read)
    return result


def title_from_name(path: Path) -> str:
    stem = path.stem.replace("_", " ").strip()
    return _clip(re.sub(r"\s+", " ", stem)) or path.name


# --- mutagen -------------------------------------------------------------------------------------

def _read_mutagen(path: Path, result: ProbeResult) -> bool:
    """Fill tags and stream info from mutagen; False when mutagen cannot read the file."""
    try:
        audio = mutagen.File(path)
    except Exception:  # mutagen raises many types for damaged files; PyAV gets its chance next
        return False
    if audio is None or getattr(audio, "info", None) is None:
        return False
    info = audio.info
    result.duration_s = _positive(getattr(info, "length", None))
    result.bitrate = int(getattr(info, "bitrate", 0) or 0) or None
    result.audio_codec = _mutagen_codec(audio, result.container)
    if audio.tags is not None:
        _apply_tags(result, _tag_map(audio))
        result.artwork = _mutagen_picture(audio)
    return result.duration_s is not None  # no length: let PyAV have a look


def _mutagen_codec(audio: Any, container: str) -> str:
    codec = getattr(audio.info, "codec", None)
    if isinstance(codec, str) and codec:
        return "aac" if codec.startswith("mp4a") else codec
    name = type(audio).__name__.lower()
    for known in ("opus", "vorbis", "flac", "mp3", "wave", "aiff", "asf"):
        if known in name:
            return {"wave": "pcm", "aiff": "pcm"}.get(known, known)
    return container


_ID3 = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "album_artist": "TPE2", "track": "TRCK",
        "disc": "TPOS", "year": "TDRC", "genre": "TCON"}
_MP4 = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "album_artist": "aART", "track": "trkn",
        "disc": "disk", "year": "\xa9day", "genre": "\xa9gen"}
_VORBIS = {"title": "title", "artist": "artist", "album": "album", "album_artist": "albumartist",
           "track": "tracknumber", "disc": "discnumber", "year": "date", "genre": "genre"}


def _tag_map(audio: Any) -> dict[str, Any]:
    tags = audio.tags
    keys = set(tags.keys())
    if any(k.startswith("T") and len(k) == 4 for k in keys) or "APIC:" in keys:
        table = _ID3
    elif any(k.startswith("\xa9") for k in keys) or "trkn" in keys or "aART" in keys:
        table = _MP4
    else:
        table = _VORBIS
    out: dict[str, Any] = {}
    lowered = {k.lower(): k for k in keys} if table is _VORBIS else {}
    for name, key in table.items():
        real = lowered.get(key, key) if table is _VORBIS else key
        if table is _VORBIS and name == "album_artist" and real not in keys:
            real = lowered.get("album artist", real)
        if real in keys:
            out[name] = _first(tags[real])
    return out


def _first(value: Any) -> Any:
    if hasattr(value, "text"):
        value = value.text
    if isinstance(value, list | tuple) and value:
        value = value[0]
    return value


def _mutagen_picture(audio: Any) -> bytes | None:
    tags = audio.tags
    pictures = getattr(audio, "pictures", None)
    if pictures:
        return bytes(pictures[0].data)
    for key in getattr(tags, "keys", list)():
        if key.startswith("APIC"):
            return bytes(tags[key].data)
    if tags.get("covr"):
        return bytes(tags["covr"][0])
    for key in ("metadata_block_picture", "METADATA_BLOCK_PICTURE"):
        if tags.get(key):
            try:
                return bytes(Picture(base64.b64decode(tags[key][0])).data)
            except Exception:  # a damaged picture block must not fail the whole file
                return None
    return None


# --- PyAV ----------------------------------------------------------------------------------------

def _read_av(path: Path, fmt: Format, result: ProbeResult, want_tags: bool) -> None:
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            _av_facts(container, fmt, result)
            if want_tags:
                _apply_tags(result, _av_tags(container))
            if result.kind == "video" and result.artwork is None:
                result.artwork = _thumbnail(container, result.duration_s)
    except av.error.FFmpegError as exc:
        raise Unreadable(f"cannot decode: {exc.strerror or type(exc).__name__}") from exc
    except (OSError, ValueError, IndexError) as exc:
        raise Unreadable(f"cannot read: {exc}") from exc


def _av_facts(container: Any, fmt: Format, result: ProbeResult) -> None:
    video = next((s for s in container.streams.video if not _is_cover(s)), None)
    audio = next(iter(container.streams.audio), None)
    if video is None and audio is None:
        raise Unreadable("no audio or video stream")
    if container.duration:
        result.duration_s = _positive(container.duration / 1_000_000)
    result.bitrate = int(container.bit_rate or 0) or result.bitrate
    if audio is not None:
        result.audio_codec = audio.codec_context.name
    if video is not None:
        result.kind = "video"
        result.video_codec = video.codec_context.name
        result.width, result.height = video.codec_context.width or None, video.codec_context.height or None
        if fmt.kind == "audio":  # e.g. a .mka holding video
            result.mime = fmt.mime
    else:
        result.kind = "audio"
        result.mime = AUDIO_ONLY_MIME.get(fmt.mime, fmt.mime)
        cover = next((s for s in container.streams.video if _is_cover(s)), None)
        if cover is not None:
            result.artwork = _first_packet(container, cover)


def _is_cover(stream: Any) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic) if hasattr(av, "stream") else False


def _first_packet(container: Any, stream: Any) -> bytes | None:
    for packet in container.demux(stream):
        if packet.size:
            return bytes(packet)
    return None


def _av_tags(container: Any) -> dict[str, Any]:
    meta = {k.lower(): v for k, v in (container.metadata or {}).items()}
    for stream in container.streams:
        for k, v in (stream.metadata or {}).items():
            meta.setdefault(k.lower(), v)
    out = {name: meta[key] for name, key in _VORBIS.items() if key in meta}
    for alias, name in (("album_artist", "album_artist"), ("track", "track"), ("disc", "disc"),
                        ("year", "year"), ("date_released", "year")):
        if alias in meta:
            out.setdefault(name, meta[alias])
    return out


def _thumbnail(container: Any, duration_s: float | None) -> bytes | None:
    """A JPEG of a frame about 10% in (past black openings), encoded by FFmpeg's own mjpeg."""
    stream = next((s for s in container.streams.video if not _is_cover(s)), None)
    if stream is None:
        return None
    try:
        if duration_s and duration_s > 2:
            container.seek(int(duration_s * 0.1 * 1_000_000))
        frame = next(container.decode(stream), None)
        return None if frame is None else _encode_jpeg(frame)
    except (av.error.FFmpegError, StopIteration, ValueError):
        return None


def _encode_jpeg(frame: Any) -> bytes:
    width = min(THUMBNAIL_WIDTH, frame.width) // 2 * 2
    height = max(2, int(frame.height * width / frame.width) // 2 * 2)
    scaled = frame.reformat(width=width, height=height, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    packets = list(codec.encode(scaled)) + list(codec.encode(None))
    return b"".join(bytes(p) for p in packets)


# --- tag values ----------------------------------------------------------------------------------

def _apply_tags(result: ProbeResult, tags: dict[str, Any]) -> None:
    for name in ("title", "artist", "album", "album_artist", "genre"):
        text = _text(tags.get(name))
        if text:
            setattr(result, name, text)
    result.track = _number(tags.get("track")) or result.track
    result.disc = _number(tags.get("disc")) or result.disc
    result.year = _year(tags.get("year")) or result.year


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", " ").strip()
    return _clip(text) or None


def _clip(text: str) -> str:
    return text[:MAX_TEXT]


def _number(value: Any) -> int | None:
    """'3', '3/12', (3, 12) -> 3."""
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    match = re.match(r"\s*(\d{1,6})", str(value)) if value is not None else None
    return int(match.group(1)) or None if match else None


def _year(value: Any) -> int | None:
    match = re.search(r"(\d{4})", str(value)) if value is not None else None
    year = int(match.group(1)) if match else None
    return year if year and 1000 <= year <= 9999 else None


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 3) if number > 0 else None
