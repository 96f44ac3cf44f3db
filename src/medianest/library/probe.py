"""Read one media file: its tags, stream facts and cover art (or a video's thumbnail).

mutagen reads the tag formats it knows well, and names their codecs itself: ID3v2 and ID3v1 (MP3),
MP4 atoms (M4A, ALAC), Vorbis comments (FLAC, Ogg Vorbis/Opus/FLAC) and APEv2 (WavPack, Monkey's Audio).
Everything else goes to PyAV, i.e. FFmpeg's demuxers, which read RIFF INFO and ID3 chunks (WAV, AVI), ID3
in AIFF, ASF attributes and `WM/Picture` (WMA, WMV), Matroska tags and QuickTime atoms in video. Codecs
are named as FFmpeg's codec descriptors name them (`mp3`, `wmav2`, `av1`), never by their container or
decoder (`asf`, `mp3float`, `libdav1d`). Every tag value is cleaned (text.clean_optional: no NUL, controls
or bidi overrides) and cut to its column's size.

`probe(path)` is pure (no DB, no writes) so the scanner and the downloader share it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import mutagen
from mutagen.apev2 import APEv2
from mutagen.flac import Picture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

from medianest.library.formats import AUDIO_ONLY_MIME, Format, format_of
from medianest.library.models import Media
from medianest.text import clean_line, clean_optional, clean_text

THUMBNAIL_WIDTH = 480
# The most of a description kept: show notes run to a few thousand characters; a tag can hold megabytes.
DESCRIPTION_CHARS = 20_000
# The containers whose tags mutagen reads (see above); the rest, and any file mutagen cannot fully
# read, go to PyAV.
MUTAGEN_AUDIO = {"mp3", "mp4", "flac", "ogg", "wavpack", "ape"}
TEXT_FIELDS = ("title", "artist", "album", "album_artist", "genre")


def _column_size(name: str) -> int:
    size = getattr(Media.__table__.c[name].type, "length", None)
    assert isinstance(size, int), name
    return size


# What a value may hold, from the columns themselves: a longer one fails on PostgreSQL.
LIMITS = {name: _column_size(name) for name in (*TEXT_FIELDS, "audio_codec", "video_codec")}


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
    # Tagged as a compilation (ID3 TCMP, MP4 cpil, COMPILATION): its album artist is "Various Artists".
    compilation: bool = False
    duration_s: float | None = None
    audio_codec: str | None = None
    video_codec: str | None = None
    bitrate: int | None = None
    width: int | None = None
    height: int | None = None
    # Notes on the item, lines kept (a podcast episode's show notes, a video's description).
    description: str | None = field(default=None, repr=False)
    artwork: bytes | None = field(default=None, repr=False)
    # The artwork cache's file name, set by whoever stores `artwork`.
    artwork_name: str | None = None

    def search_text(self) -> str:
        return search_text(self.title, self.artist, self.album, self.album_artist, self.genre)


def search_text(*parts: str | None) -> str:
    """Lower-case, diacritics-free words that both search backends index, split where search splits a query
    (search.terms): PostgreSQL's parser would read "mpeg-4" as "mpeg" and "-4", and "mr.bungle" as a host."""
    return " ".join(re.findall(r"[^\W_]+", fold(" ".join(p for p in parts if p))))


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
    read = fmt.kind == "audio" and fmt.container in MUTAGEN_AUDIO and _read_mutagen(path, result)
    if not read:
        _read_av(path, fmt, result)
    return result


def title_from_name(path: Path) -> str:
    stem = re.sub(r"\s+", " ", clean_line(path.stem.replace("_", " ")))
    return stem[:LIMITS["title"]].rstrip() or clean_line(path.name)[:LIMITS["title"]]


# --- mutagen -------------------------------------------------------------------------------------

# mutagen's file types and the codec each holds, named as FFmpeg names it. MP3 and MP4 say which
# codec they hold in their stream info instead (below).
_MUTAGEN_CODECS = {"FLAC": "flac", "OggFLAC": "flac", "OggVorbis": "vorbis", "OggOpus": "opus",
                   "OggSpeex": "speex", "WavPack": "wavpack", "MonkeysAudio": "ape", "AAC": "aac"}
_MPEG_LAYERS = {1: "mp1", 2: "mp2", 3: "mp3"}
# An MP4 sample entry (mutagen's `info.codec`: "mp4a.40.2", "alac", "ac-3"...) by FFmpeg's name.
_MP4_CODECS = {"mp4a.40": "aac", "mp4a.66": "aac", "mp4a.67": "aac", "mp4a.68": "aac", "mp4a.69": "mp3",
               "mp4a.6B": "mp3", "alac": "alac", "ac-3": "ac3", "ec-3": "eac3", "fLaC": "flac", "Opus": "opus"}


def _read_mutagen(path: Path, result: ProbeResult) -> bool:
    """Fill tags and stream facts from mutagen; False when mutagen cannot read the file, measure its
    length or name its codec (PyAV reads it all then)."""
    try:
        audio = mutagen.File(path)
    except Exception:  # mutagen raises many types for damaged files; PyAV gets its chance next
        return False
    info = getattr(audio, "info", None)
    codec = _mutagen_codec(audio) if info is not None else None
    duration = _positive(getattr(info, "length", None))
    if codec is None or duration is None:
        return False
    result.duration_s, result.audio_codec = duration, codec
    result.bitrate = int(getattr(info, "bitrate", 0) or 0) or None
    tags = audio.tags
    if tags is not None:
        keys = _keys(tags)
        _apply_tags(result, _lookup(tags, keys, _table(tags)))
        result.artwork = _mutagen_picture(audio, tags, keys)
    return True


def _mutagen_codec(audio: Any) -> str | None:
    codec = getattr(audio.info, "codec", None)
    if isinstance(codec, str) and codec:
        return _MP4_CODECS.get(codec[:7]) or _MP4_CODECS.get(codec)
    layer = getattr(audio.info, "layer", None)
    if layer is not None:
        return _MPEG_LAYERS.get(layer)
    return _MUTAGEN_CODECS.get(type(audio).__name__)


# Where each field lives in each tag format; the first key present wins.
Table = dict[str, tuple[str, ...]]
_ID3: Table = {"title": ("TIT2",), "artist": ("TPE1",), "album": ("TALB",), "album_artist": ("TPE2",),
               "track": ("TRCK",), "disc": ("TPOS",), "year": ("TDRC", "TDOR"), "genre": ("TCON",),
               "compilation": ("TCMP",),
               # yt-dlp's and FFmpeg's description, the podcast frame iTunes writes, then a plain comment
               # (its COMM frames are keyed by their language too: found by `_id3_comment`).
               "description": ("TXXX:description", "TDES", "TXXX:comment")}
_MP4: Table = {"title": ("\xa9nam",), "artist": ("\xa9ART",), "album": ("\xa9alb",), "album_artist": ("aART",),
               "track": ("trkn",), "disc": ("disk",), "year": ("\xa9day",), "genre": ("\xa9gen",),
               "compilation": ("cpil",),
               "description": ("ldes", "desc", "\xa9cmt")}  # the long description first: `desc` may be cut
# Vorbis comments, APEv2 (both looked up case-insensitively) and FFmpeg's metadata (lower-cased by
# `_av_tags`) share one vocabulary with several spellings: FFmpeg's own names (album_artist, track,
# disc), APEv2's ("Album Artist", "Year"), AVI's INFO album (`product`, from IPRD), AIFF's AUTH chunk
# (`author`) and the ASF year FFmpeg leaves as it is (`WM/Year`).
_NAMED: Table = {"title": ("title",), "artist": ("artist", "author"), "album": ("album", "product"),
                 "album_artist": ("albumartist", "album artist", "album_artist"),
                 "track": ("tracknumber", "track"), "disc": ("discnumber", "disc"),
                 "year": ("date", "year", "wm/year"), "genre": ("genre",),
                 "compilation": ("compilation", "itunescompilation"),
                 "description": ("description", "synopsis", "comment")}


def _table(tags: Any) -> Table:
    if isinstance(tags, ID3):
        return _ID3
    return _MP4 if isinstance(tags, MP4Tags) else _NAMED


def _keys(tags: Any) -> dict[str, str]:
    """The tags' keys as the tables spell them -> as stored: Vorbis and APEv2 keys are case-insensitive.
    Read once per file into a plain dict: mutagen's own `in` costs more than the rest of the lookup."""
    keys = tags.keys()
    return dict(zip(keys, keys, strict=True)) if isinstance(tags, ID3 | MP4Tags) else {k.lower(): k for k in keys}


def _lookup(tags: Any, keys: Mapping[str, str], table: Table) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spellings in table.items():
        for spelling in spellings:
            key = keys.get(spelling)
            if key is not None:
                out[name] = _first(tags[key])
                break
    genre = out.get("genre")
    if table is _ID3 and isinstance(genre, str) and genre[:1] in _GENRE_NUMBER:
        out["genre"] = (tags["TCON"].genres or [genre])[0]  # "(8)" or "8": a genre by its ID3v1 number
    if table is _ID3 and "description" not in out:
        out["description"] = _id3_comment(tags, keys)
    return out


def _id3_comment(tags: Any, keys: Mapping[str, str]) -> Any:
    """The text of the first COMM frame that is not ID3v1's (FFmpeg copies that one back in as a frame)."""
    for key in keys:
        if key.startswith("COMM") and not tags[key].desc.startswith("ID3v1"):
            return _first(tags[key])
    return None


_GENRE_NUMBER = frozenset("(0123456789")


def _first(value: Any) -> Any:
    """The first of a tag's values: an ID3 frame's text, an MP4 or Vorbis comment list's."""
    if hasattr(value, "text"):
        value = value.text
    if isinstance(value, list | tuple) and value:
        value = value[0]
    return value


FRONT_COVER = 3  # the picture type ID3, FLAC and ASF give the front cover


def _mutagen_picture(audio: Any, tags: Any, keys: Mapping[str, str]) -> bytes | None:
    """The front cover, else the first picture: FLAC's picture blocks, ID3 APIC frames, the MP4 `covr`
    atom, APEv2's cover item or an Ogg METADATA_BLOCK_PICTURE comment."""
    pictures = getattr(audio, "pictures", None) or []  # FLAC
    if isinstance(tags, ID3):
        pictures = [tags[k] for k in keys if k.startswith("APIC")]
    elif isinstance(tags, MP4Tags):
        return bytes(tags["covr"][0]) if tags.get("covr") else None
    elif isinstance(tags, APEv2):
        key = keys.get("cover art (front)")  # a file name, NUL, then the image
        return bytes(tags[key].value).partition(b"\0")[2] or None if key is not None else None
    elif not pictures and "metadata_block_picture" in keys:
        pictures = _ogg_pictures(tags[keys["metadata_block_picture"]])
    front = next((p for p in pictures if p.type == FRONT_COVER), pictures[0] if pictures else None)
    return bytes(front.data) if front is not None else None


def _ogg_pictures(blocks: list[str]) -> list[Picture]:
    pictures = []
    for block in blocks:
        with contextlib.suppress(Exception):  # a damaged picture block must not fail the whole file
            pictures.append(Picture(base64.b64decode(block)))
    return pictures


# --- PyAV ----------------------------------------------------------------------------------------

# FFmpeg decodes up to 5 s of a WAV's PCM to find the stream facts its header already gives (10-15 ms a
# file, 30 times the rest of its probe); the smallest probe size skips that and changes no fact.
_AV_OPTIONS = {"wav": {"probesize": "32"}}


def _read_av(path: Path, fmt: Format, result: ProbeResult) -> None:
    import av  # PyAV (FFmpeg's libraries): loaded by the first file mutagen cannot read, not at start-up

    try:
        with _open_av(path, fmt) as container:
            _av_facts(container, fmt, result)
            _apply_tags(result, _av_tags(container, fmt))
            if result.kind == "video" and result.artwork is None:
                result.artwork = _thumbnail(container, result.duration_s)
    except av.error.FFmpegError as exc:
        raise Unreadable(f"cannot decode: {exc.strerror or type(exc).__name__}") from exc
    except (OSError, ValueError, IndexError) as exc:
        raise Unreadable(f"cannot read: {exc}") from exc


@contextlib.contextmanager
def _open_av(path: Path, fmt: Format) -> Iterator[Any]:
    import av

    options = _AV_OPTIONS.get(fmt.container)
    with path.open("rb") as file:
        limit = _riff_end(file) if fmt.container == "wav" else None
        source: Any = str(path) if limit is None else _Bounded(file, limit)
        with av.open(source, metadata_errors="ignore", options=options) as container:
            yield container


def _riff_end(file: BinaryIO) -> int | None:
    """Where a WAV's RIFF chunk says the file ends, when that is inside the file. FFmpeg's WAV demuxer
    walks chunk headers to the end of the file instead, one seek per 8 bytes: past a RIFF chunk there may
    be gigabytes of zeros (a preallocated or damaged file), which took it 100 s for 1 GB."""
    head = file.read(12)
    file.seek(0)
    if len(head) < 12 or head[:4] != b"RIFF":
        return None  # RF64, or not RIFF at all: FFmpeg reads it as it is
    end = 8 + int.from_bytes(head[4:8], "little")
    return end if 12 < end < os.fstat(file.fileno()).st_size else None


class _Bounded(io.RawIOBase):
    """A file that ends at `limit`, for FFmpeg to read through PyAV's Python I/O."""

    def __init__(self, file: BinaryIO, limit: int) -> None:
        super().__init__()
        self._file, self._limit = file, limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._file.read(max(0, min(len(buffer), self._limit - self._file.tell())))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._file.seek(self._limit + offset)
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def _av_facts(container: Any, fmt: Format, result: ProbeResult) -> None:
    video = next((s for s in container.streams.video if not _is_cover(s)), None)
    audio = next(iter(container.streams.audio), None)
    if video is None and audio is None:
        raise Unreadable("no audio or video stream")
    if container.duration:
        result.duration_s = _positive(container.duration / 1_000_000)
    result.bitrate = int(container.bit_rate or 0) or result.bitrate
    if audio is not None:
        result.audio_codec = _codec_name(audio)
    if video is not None:
        result.kind = "video"
        result.video_codec = _codec_name(video)
        context = video.codec_context
        result.width, result.height = (context.width or None, context.height or None) if context else (None, None)
        if fmt.kind == "audio":  # e.g. a .mka holding video
            result.mime = fmt.mime
    else:
        result.kind = "audio"
        result.mime = AUDIO_ONLY_MIME.get(fmt.mime, fmt.mime)
        cover = next((s for s in container.streams.video if _is_cover(s)), None)
        if cover is not None:
            result.artwork = _first_packet(container, cover)


def _codec_name(stream: Any) -> str | None:
    """The codec as FFmpeg's descriptor names it (`mp3`, `av1`), not the decoder PyAV picked for it
    (`mp3float`, `libdav1d`); None when this FFmpeg has no decoder for it at all."""
    context = stream.codec_context
    return clean_optional(context.codec.canonical_name, LIMITS["audio_codec"]) if context is not None else None


def _is_cover(stream: Any) -> bool:
    import av
    return bool(stream.disposition & av.stream.Disposition.attached_pic) if hasattr(av, "stream") else False


def _first_packet(container: Any, stream: Any) -> bytes | None:
    for packet in container.demux(stream):
        if packet.size:
            return bytes(packet)
    return None


def _av_tags(container: Any, fmt: Format) -> dict[str, Any]:
    """The container's tags, looked up as `_NAMED` spells them. Only Ogg keeps its tags in each stream
    (a comment header per logical stream); elsewhere a stream's `title` names the track ("Stereo",
    "Commentary"), not the work."""
    meta = {k.lower(): v for k, v in (container.metadata or {}).items()}
    if fmt.container == "ogg":
        for stream in container.streams:
            for k, v in (stream.metadata or {}).items():
                meta.setdefault(k.lower(), v)
    return _lookup(meta, dict(zip(meta, meta, strict=True)), _NAMED)


def _thumbnail(container: Any, duration_s: float | None) -> bytes | None:
    """A JPEG of a frame about 10% in (past black openings), encoded by FFmpeg's own mjpeg."""
    import av
    stream = next((s for s in container.streams.video if not _is_cover(s)), None)
    if stream is None or stream.codec_context is None:
        return None
    try:
        if duration_s and duration_s > 2:
            container.seek(int(duration_s * 0.1 * 1_000_000))
        frame = next(container.decode(stream), None)
        return None if frame is None else _encode_jpeg(frame)
    except (av.error.FFmpegError, StopIteration, ValueError):
        return None


def _encode_jpeg(frame: Any) -> bytes:
    import av
    width = min(THUMBNAIL_WIDTH, frame.width) // 2 * 2
    height = max(2, int(frame.height * width / frame.width) // 2 * 2)
    scaled = frame.reformat(width=width, height=height, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    packets = list(codec.encode(scaled)) + list(codec.encode(None))
    return b"".join(bytes(p) for p in packets)


# --- tag values ----------------------------------------------------------------------------------

def _apply_tags(result: ProbeResult, tags: Mapping[str, Any]) -> None:
    for name in TEXT_FIELDS:
        text = _text(tags.get(name), LIMITS[name])
        if text:
            setattr(result, name, text)
    result.track = _number(tags.get("track")) or result.track
    result.disc = _number(tags.get("disc")) or result.disc
    result.year = _year(tags.get("year")) or result.year
    result.compilation = _flag(tags.get("compilation")) or result.compilation
    result.description = _notes(tags.get("description")) or result.description


def _text(value: Any, limit: int) -> str | None:
    """One clean line of at most `limit` characters. A NUL separates values (ID3v2.4, APEv2 and ASF
    say so), so only the first value is kept, as for the formats that give a list."""
    if value is None:
        return None
    text = str(value)
    if "\0" in text:
        text = next((part for part in text.split("\0") if part.strip()), "")
    return clean_optional(text, limit)


def _notes(value: Any) -> str | None:
    """A description: its lines kept, other controls gone, at most DESCRIPTION_CHARS characters."""
    if value is None:
        return None
    text = clean_text(str(value).replace("\r\n", "\n").replace("\0", "\n"))
    return text[:DESCRIPTION_CHARS].rstrip() or None


def _number(value: Any) -> int | None:
    """'3', '3/12', (3, 12) -> 3."""
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    match = re.match(r"\s*(\d{1,6})", str(value)) if value is not None else None
    return int(match.group(1)) or None if match else None


def _flag(value: Any) -> bool:
    """A compilation flag: MP4's `cpil` is a bool, the others "1" (or "true")."""
    return value is True or str(value).strip().lower() in ("1", "true", "yes")


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
