"""Progressive audio transcodes: `GET /media/{id}/stream?format=mp3&bitrate=128&offset=30`.

The encoder writes a file in the cache's work folder and the response reads it as it grows, so the first
bytes go out as soon as ffmpeg writes them. Several requests for the same transcode share one encoder.
When the last reader goes away the encoder is killed and its file removed; when ffmpeg finishes, the file
moves into the cache and the same request is from then on a plain file with Range support.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from medianest.errors import Unplayable
from medianest.jobs.processes import Child, Processes
from medianest.library.formats import FORMATS
from medianest.transcoding.cache import TranscodeCache, key_of, touch
from medianest.transcoding.commands import audio_command
from medianest.transcoding.decide import AUDIO_CONTAINER, AudioPlan

log = structlog.get_logger(__name__)

CHUNK = 64 * 1024
POLL_S = 0.01  # how often a reader at the end of the growing file looks again
FIRST_BYTES_TIMEOUT_S = 30
# What the client is told (ffmpeg's own lines name paths on this server: they go to the log).
CANNOT_TRANSCODE = "the file cannot be transcoded: FFmpeg stopped with an error (the server's log says which)"
# Each format's file type is its container's (decide.AUDIO_CONTAINER), and its MIME type the library's for it.
EXT = AUDIO_CONTAINER
MIME = {fmt: FORMATS[f".{ext}"].mime for fmt, ext in EXT.items()}


@dataclass(frozen=True)
class AudioRequest:
    source: str  # the file's real path, or its object's `s3://` URL
    size: int
    mtime: float
    plan: AudioPlan
    track: int
    offset_s: float
    url: str | None = field(default=None, compare=False)  # where ffmpeg reads an object: a presigned URL

    @property
    def key(self) -> str:
        return key_of(self.source, self.size, self.mtime, self.plan, self.track, round(self.offset_s, 3))

    @property
    def mime(self) -> str:
        return MIME[self.plan.format]


@dataclass
class _Job:
    key: str
    child: Child
    work: Path
    final: Path
    readers: int = 0
    finished: bool = False
    started: float = field(default_factory=time.monotonic)


class AudioTranscodes:
    def __init__(self, ffmpeg: str, cache: TranscodeCache, processes: Processes) -> None:
        self.ffmpeg = ffmpeg
        self.cache = cache
        self.processes = processes
        self._jobs: dict[str, _Job] = {}

    def cached(self, request: AudioRequest) -> Path | None:
        """The finished transcode, when the cache has it (touched: just used)."""
        path = self.cache.audio_path(request.key, EXT[request.plan.format])
        if path.is_file():
            touch(path)
            return path
        return None

    async def open(self, request: AudioRequest) -> AsyncIterator[bytes]:
        """The transcode's bytes as they are written; waits for the first ones (so a file that cannot be
        decoded is an `Unplayable` error before any header is sent)."""
        job = self._jobs.get(request.key)
        if job is None:  # else share the running one (it leaves the table once done)
            job = await self._start(request)
        job.readers += 1
        fd = os.open(job.work, os.O_RDONLY)  # made before ffmpeg starts; still reads once moved to the cache
        try:
            await self._first_bytes(job, fd)
        except BaseException:
            os.close(fd)
            self._leave(job)
            raise
        return self._follow(job, fd)

    async def _start(self, request: AudioRequest) -> _Job:
        name = f"{request.key}.{EXT[request.plan.format]}"
        work = self.cache.work_path(name)
        work.write_bytes(b"")  # ffmpeg truncates and writes this same file: readers can open it at once
        source = request.url or request.source
        argv = audio_command(self.ffmpeg, source, request.plan, request.track, request.offset_s, str(work))
        child = await self.processes.spawn(argv)
        job = _Job(request.key, child, work, self.cache.audio_path(request.key, EXT[request.plan.format]))
        self._jobs[request.key] = job
        return job

    async def _first_bytes(self, job: _Job, fd: int) -> None:
        deadline = time.monotonic() + FIRST_BYTES_TIMEOUT_S
        while os.fstat(fd).st_size == 0:
            if not job.child.running:
                await job.child.wait()
                if os.fstat(fd).st_size == 0:
                    log.warning("transcode failed", key=job.key, reason=job.child.why())
                    raise Unplayable("media", job.key, CANNOT_TRANSCODE)
                break
            if time.monotonic() > deadline:
                raise Unplayable("media", job.key, "the transcoder wrote nothing in time")
            await asyncio.sleep(POLL_S)

    async def _follow(self, job: _Job, fd: int) -> AsyncIterator[bytes]:
        """Read until ffmpeg has exited and everything it wrote has been sent."""
        try:
            while True:
                chunk = os.read(fd, CHUNK)
                if chunk:
                    yield chunk
                    continue
                if job.child.running:
                    await asyncio.sleep(POLL_S)
                    continue
                rest = os.read(fd, CHUNK)  # written between the read above and the exit
                if not rest:
                    await self._finish(job)
                    return
                yield rest
        finally:
            os.close(fd)
            self._leave(job)

    async def _finish(self, job: _Job) -> None:
        """The encoder exited: keep a complete transcode, drop a failed one."""
        if job.finished:
            return
        code = await job.child.wait()
        job.finished = True
        if code == 0 and job.work.exists():
            await asyncio.to_thread(self.cache.promote, job.work, job.final)
            log.info("transcode cached", key=job.key, seconds=round(time.monotonic() - job.started, 2))
        else:
            log.warning("transcode failed", key=job.key, reason=job.child.why())
            job.work.unlink(missing_ok=True)
        self._jobs.pop(job.key, None)

    def _leave(self, job: _Job) -> None:
        """A reader went (finished, or the client disconnected): the last one out stops an encoder still
        running, whose partial file then goes too."""
        job.readers -= 1
        if job.readers > 0 or job.finished:
            return
        if job.child.returncode == 0:  # it had finished: keep it even though this reader left early
            job.finished = True
            with contextlib.suppress(OSError):
                self.cache.promote(job.work, job.final)
        elif job.child.running:
            job.child.proc.kill()
            log.info("transcode stopped: nobody is listening", key=job.key)
        with contextlib.suppress(FileNotFoundError):
            job.work.unlink()
        self._jobs.pop(job.key, None)

    async def close(self) -> None:
        for job in list(self._jobs.values()):
            await job.child.kill()
            job.work.unlink(missing_ok=True)
        self._jobs.clear()

