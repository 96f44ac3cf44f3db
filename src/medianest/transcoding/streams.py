"""What is inside a file, as the transcoding decision needs it: the container, the video stream's codec,
bit depth and chroma layout, every audio track. Read with PyAV (FFmpeg's demuxers) from the headers only,
in a worker thread, and remembered per (path, size, mtime): a player asks again at every seek."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

import av

from medianest.errors import Unplayable
from medianest.text import clean_optional

# FFmpeg's demuxer names (some list several: "mov,mp4,m4a,3gp,3g2,mj2") -> the container names clients use.
_CONTAINERS = {"mov": "mp4", "matroska": "matroska", "webm": "webm", "ogg": "ogg", "mp3": "mp3", "flac": "flac",
               "wav": "wav", "avi": "avi", "asf": "asf", "aac": "aac", "mpegts": "mpegts", "flv": "flv",
               "aiff": "aiff", "wv": "wavpack", "ape": "ape", "mpeg": "mpeg"}


@dataclass(frozen=True)
class AudioTrack:
    index: int  # among the file's audio streams (0 = the first), what `audio_track=` names
    codec: str
    channels: int
    language: str | None
    title: str | None
    default: bool


@dataclass(frozen=True)
class Streams:
    container: str
    duration_s: float | None
    video_codec: str | None = None
    video_bits: int = 8
    video_chroma: str = "420"  # "420", "422", "444"
    height: int | None = None
    bitrate: int | None = None  # bit/s of the whole file
    audio: tuple[AudioTrack, ...] = field(default_factory=tuple)

    @property
    def video_variant(self) -> str | None:
        """The codec as the capability lists name it: "h264", or "h264_10bit" / "h264_422" for the
        profiles a browser that plays plain H.264 may still not decode."""
        if self.video_codec is None:
            return None
        if self.video_chroma != "420":
            return f"{self.video_codec}_{self.video_chroma}"
        return f"{self.video_codec}_10bit" if self.video_bits > 8 else self.video_codec


KNOWN_MAX = 512
_known: OrderedDict[tuple[str, int, float], Streams] = OrderedDict()  # least recently used first


async def streams_of(path: str, size: int, mtime: float, url: str | None = None) -> Streams:
    """The file's streams; `Unplayable` when FFmpeg cannot read it or it holds neither audio nor video.
    Every playlist, segment and transcode request asks: a file read before is answered from memory, without
    the hop to a worker thread that reading it takes."""
    key = (path, size, mtime)
    streams = _known.get(key)
    if streams is None:
        streams = await asyncio.to_thread(_probe, path, url)
        _known[key] = streams
        if len(_known) > KNOWN_MAX:
            _known.popitem(last=False)
    _known.move_to_end(key)
    return streams


def _probe(path: str, url: str | None = None) -> Streams:
    """`path` read (from `url` when given: an object's presigned URL, which is never named in errors or
    taken for the file's name)."""
    try:
        with av.open(url or path, metadata_errors="ignore") as container:
            return _read(container, path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        # FFmpeg's words without the path ("Invalid data found when processing input").
        why = getattr(exc, "strerror", None) or "unreadable"
        raise Unplayable("media", path, f"the file cannot be decoded ({why})") from exc


def _read(container: av.container.InputContainer, path: str) -> Streams:
    video = next((s for s in container.streams.video if not _is_cover(s)), None)
    audio = tuple(_track(i, s) for i, s in enumerate(container.streams.audio))
    if video is None and not audio:
        raise Unplayable("media", path, "the file holds no audio or video stream")
    duration = container.duration / 1_000_000 if container.duration else None
    name = _container(container.format.name, path)
    if video is None:
        return Streams(name, duration, bitrate=container.bit_rate or None, audio=audio)
    bits, chroma = _pixel_format(video.codec_context.pix_fmt or "")
    return Streams(name, duration, video.codec_context.codec.canonical_name, bits, chroma,
                   video.codec_context.height or None,
                   container.bit_rate or None, audio)


def _container(demuxer: str, path: str) -> str:
    """The container as clients name it. One FFmpeg demuxer reads both Matroska and WebM ("matroska,webm"):
    a .webm file is WebM (a subset browsers play), anything else it reads is Matroska."""
    if demuxer == "matroska,webm" and path.lower().endswith(".webm"):
        return "webm"
    first = demuxer.split(",")[0]
    return _CONTAINERS.get(first, first)


def _is_cover(stream: av.video.stream.VideoStream) -> bool:
    """An attached picture (cover art in an MP3/M4A/MKV) is not a video."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _track(index: int, stream: av.audio.stream.AudioStream) -> AudioTrack:
    meta = stream.metadata
    return AudioTrack(index, stream.codec_context.codec.canonical_name, stream.codec_context.channels or 2,
                      _language(meta.get("language")), clean_optional(meta.get("title")),
                      bool(stream.disposition & av.stream.Disposition.default))


def _pixel_format(pix_fmt: str) -> tuple[int, str]:
    """Bit depth and chroma layout from FFmpeg's pixel format name (yuv420p, yuv422p10le, yuvj444p...)."""
    bits = 10 if "10" in pix_fmt else 12 if "12" in pix_fmt else 8
    chroma = "422" if "422" in pix_fmt else "444" if "444" in pix_fmt else "420"
    return bits, chroma


def _language(tag: str | None) -> str | None:
    """The track's language code; "und" (undetermined, what muxers write for none) is None."""
    value = clean_optional(tag)
    return None if value is None or value.lower() == "und" else value[:16]
