"""`Transcoding`: the playback decision, progressive audio and HLS, for the routes (api/routes/transcoding.py
and the stream route) of one server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from medianest.config import Settings
from medianest.errors import InvalidInput
from medianest.jobs.processes import Processes
from medianest.library.ffmpeg import ffmpeg_exe
from medianest.streaming.response import FileInfo
from medianest.transcoding.audio import AudioRequest, AudioTranscodes
from medianest.transcoding.cache import TranscodeCache
from medianest.transcoding.decide import (
    DEFAULT_KBPS,
    AudioFormat,
    AudioPlan,
    Capabilities,
    Decision,
    VideoPlan,
    codec_family,
    decide,
)
from medianest.transcoding.encoders import VideoEncoder, usable_encoder
from medianest.transcoding.hls import HlsSessions, Rendition
from medianest.transcoding.streams import Streams, streams_of

MB = 1024 * 1024
# How long ffmpeg's presigned URL of an object works (S3 allows up to 7 days).
FFMPEG_URL_TTL = timedelta(hours=12)
SWEEP_EVERY_S = 10.0  # the cache is also swept as each transcode is added; this catches the rest


@dataclass(frozen=True)
class AudioSource:
    """A live transcode's bytes, or the cached file once one exists."""

    request: AudioRequest
    duration_s: float | None
    cached: Path | None = None
    body: AsyncIterator[bytes] | None = None


class Transcoding:
    def __init__(self, settings: Settings, processes: Processes) -> None:
        self.settings = settings
        self.processes = processes
        self.cache = TranscodeCache(settings.transcode_dir, settings.transcode_cache_mb * MB)
        ffmpeg = settings.ffmpeg_path or "ffmpeg"  # resolved in start(): finding the bundled one costs an import
        self.audio = AudioTranscodes(ffmpeg, self.cache, processes)
        self.hls = HlsSessions(ffmpeg, self.cache, processes, VideoEncoder(), settings.transcode_idle_s)
        self._swept = 0.0

    async def start(self) -> None:
        """Before serving: the cache's folders (what a crash left removed), ffmpeg found, the encoder checked."""
        await asyncio.to_thread(self.cache.prepare)
        ffmpeg = await asyncio.to_thread(ffmpeg_exe, self.settings.ffmpeg_path)
        self.audio.ffmpeg = self.hls.ffmpeg = ffmpeg
        s = self.settings
        self.hls.encoder = await usable_encoder(ffmpeg, s.transcode_hwaccel, s.transcode_vaapi_device)

    async def decision(self, info: FileInfo, caps: Capabilities, track: int | None) -> tuple[Streams, Decision]:
        streams = await streams_of(info.path, info.size, info.mtime, await _url(info))
        if track is not None and not 0 <= track < len(streams.audio):
            raise InvalidInput("audio_track", f"the file has {len(streams.audio)} audio track(s)")
        return streams, decide(streams, caps, track)

    async def audio_stream(self, info: FileInfo, fmt: AudioFormat, kbps: int | None, offset_s: float,
                           track: int | None, start: bool = True) -> AudioSource:
        """`fmt` at `kbps` (None: the format's default; the codec copied when the file already has it) from
        `offset_s`; `start=False` (HEAD) looks in the cache but starts nothing."""
        url = await _url(info)
        streams = await streams_of(info.path, info.size, info.mtime, url)
        chosen = _audio_track(streams, track)
        if streams.duration_s and offset_s >= streams.duration_s:
            raise InvalidInput("offset", f"past the end ({streams.duration_s:.1f} s)")
        copy = kbps is None and codec_family(streams.audio[chosen].codec) == fmt
        plan = AudioPlan(fmt, None if copy or fmt == "flac" else kbps or DEFAULT_KBPS[fmt], copy)
        request = AudioRequest(info.path, info.size, info.mtime, plan, chosen, offset_s, url)
        duration = streams.duration_s - offset_s if streams.duration_s else None
        cached = self.audio.cached(request)
        if cached is not None or not start:
            return AudioSource(request, duration, cached)
        return AudioSource(request, duration, body=await self.audio.open(request))

    async def rendition(self, media_id: int, info: FileInfo, plan: VideoPlan) -> Rendition:
        url = await _url(info)
        streams = await streams_of(info.path, info.size, info.mtime, url)
        if streams.video_codec is None:
            raise InvalidInput("variant", "the file has no video")
        if plan.audio != "none" and not plan.track < len(streams.audio):
            raise InvalidInput("variant", f"the file has {len(streams.audio)} audio track(s)")
        if plan.video == "h264" and plan.height > (streams.height or 0):
            raise InvalidInput("variant", "larger than the video")
        return Rendition(media_id, info.path, info.size, info.mtime, streams, plan, url)

    async def housekeeping(self) -> None:
        """Stop idle encoders, pause those far ahead, keep the cache within its bound."""
        await self.hls.reap()
        now = time.monotonic()
        if now - self._swept >= SWEEP_EVERY_S:
            self._swept = now
            await asyncio.to_thread(self.cache.sweep)

    async def close(self) -> None:
        await self.audio.close()
        await self.hls.close()
        await self.processes.close()


def _audio_track(streams: Streams, track: int | None) -> int:
    if not streams.audio:
        raise InvalidInput("format", "the file has no audio")
    if track is None:
        return next((t.index for t in streams.audio if t.default), 0)
    if not 0 <= track < len(streams.audio):
        raise InvalidInput("audio_track", f"the file has {len(streams.audio)} audio track(s)")
    return track


async def _url(info: FileInfo) -> str | None:
    """Where ffmpeg reads an object in a bucket: a presigned URL, long-lived, as an HLS session may
    restart its encoder after a seek hours later (ffmpeg seeks in it with ranged GETs); None for a file."""
    if info.stored is None:
        return None
    return await info.stored.bucket.presign(info.stored.key, FFMPEG_URL_TTL)
