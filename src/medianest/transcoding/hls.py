"""HLS for video: a VOD playlist listing the whole duration at once (so the seek bar works from the first
second), an init segment and fragmented-MP4 segments made on demand.

One `_Session` per rendition (file + plan) in this process runs at most one ffmpeg at a time:
- a segment already made (by this run, an earlier one, or another server process) is served at once;
- a segment the running encoder will reach soon is waited for;
- a segment far ahead of it, or behind where it started (a seek), restarts the encoder there;
- an encoder more than `AHEAD` segments ahead of what was last asked for is paused (SIGSTOP) until the
  player catches up, and one nobody has fetched from for `idle_s` is stopped (`reap`).
Finished segments move from the encoder's work folder into the shared cache folder (cache.py).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from medianest.errors import NotFound, Unplayable
from medianest.jobs.processes import Child, Processes
from medianest.transcoding.audio import CANNOT_TRANSCODE
from medianest.transcoding.cache import TranscodeCache, key_of, touch
from medianest.transcoding.commands import INIT, hls_command
from medianest.transcoding.decide import VideoPlan
from medianest.transcoding.encoders import VideoEncoder
from medianest.transcoding.streams import Streams

log = structlog.get_logger(__name__)

SEGMENT_S = 6
AHEAD = 5  # segments made beyond the last one asked for before the encoder waits (hls.js buffers 30 s)
RESTART_GAP = 3  # a segment this far past what the encoder has made is waited for; further: restart there
POLL_S = 0.02
# A tail this short after the last whole segment (audio that outlasts the last frame by a few ms) makes no
# segment of its own: the encoder has no frame there to start one with. It is counted in the last one.
TAIL_S = 0.1
WAIT_S = 45  # longest a segment request waits for its segment


@dataclass(frozen=True)
class Rendition:
    """One file as one plan: what a set of HLS URLs names."""

    media_id: int
    source: str
    size: int
    mtime: float
    streams: Streams
    plan: VideoPlan
    url: str | None = field(default=None, compare=False)  # where ffmpeg reads an object: a presigned URL

    @property
    def name(self) -> str:
        return f"{self.media_id}-{key_of(self.source, self.size, self.mtime)[:16]}-{self.plan.name}"

    @property
    def segments(self) -> int:
        return max(1, math.ceil(((self.streams.duration_s or 0) - TAIL_S) / SEGMENT_S))


@dataclass
class _Session:
    rendition: Rendition
    out: Path  # the shared folder of finished segments
    work: Path  # this process's encoder writes here
    child: Child | None = None
    start: int = 0  # the segment the running encoder started at
    made: int = -1  # the highest segment this run has finished
    wanted: int = 0  # the last segment asked for
    fetched: float = field(default_factory=time.monotonic)

    def segment(self, n: int) -> Path:
        return self.out / f"s{n}.m4s"

    def collect(self) -> None:
        """Move what the encoder finished into the shared folder (ffmpeg's temp_file flag: a segment gets
        its name only once complete; the init file is complete once a segment is)."""
        try:
            names = os.listdir(self.work)
        except FileNotFoundError:
            return
        done = [n for n in names if n.startswith("s") and n.endswith(".m4s")]
        if not done:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        if INIT in names and not (self.out / INIT).exists():
            os.replace(self.work / INIT, self.out / INIT)
        for name in done:
            os.replace(self.work / name, self.out / name)
            self.made = max(self.made, int(name[1:-4]))

    def pace(self) -> None:
        """Pause an encoder `AHEAD` segments past what the player last asked for; resume it otherwise."""
        if self.child is not None and self.child.running:
            self.child.pause() if self.made - self.wanted >= AHEAD else self.child.resume()

    def covers(self, n: int) -> bool:
        """Whether the running encoder will reach segment `n` soon."""
        if self.child is None or not self.child.running:
            return False
        return self.start <= n <= max(self.made, self.start - 1) + RESTART_GAP


class HlsSessions:
    def __init__(self, ffmpeg: str, cache: TranscodeCache, processes: Processes, encoder: VideoEncoder,
                 idle_s: float) -> None:
        self.ffmpeg = ffmpeg
        self.cache = cache
        self.processes = processes
        self.encoder = encoder
        self.idle_s = idle_s
        self._sessions: dict[str, _Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def playlist(self, rendition: Rendition, token: str) -> str:
        """The VOD playlist: every segment listed up front, each URL carrying the media token."""
        duration = rendition.streams.duration_s or 0
        # Copied video is cut at its own keyframes, so a segment may run past SEGMENT_S.
        target = SEGMENT_S if rendition.plan.video != "copy" else 2 * SEGMENT_S
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
                 "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="init.mp4?token={token}"']
        last = rendition.segments - 1
        for n in range(rendition.segments):
            length = duration - n * SEGMENT_S if duration and n == last else SEGMENT_S
            lines += [f"#EXTINF:{max(length, 0.001):.6f},", f"{n}.m4s?token={token}"]
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    async def init(self, rendition: Rendition) -> Path:
        session = self._session(rendition)
        path = session.out / INIT
        if not path.exists():
            await self._wait_for(session, path, session.wanted)
        touch(session.out)
        return path

    async def segment(self, rendition: Rendition, n: int) -> Path:
        if not 0 <= n < rendition.segments:
            raise NotFound("segment", n)
        session = self._session(rendition)
        session.wanted, session.fetched = n, time.monotonic()
        session.pace()
        path = session.segment(n)
        if not path.exists():
            await self._wait_for(session, path, n)
        touch(session.out)
        return path

    async def _wait_for(self, session: _Session, path: Path, n: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            session.collect()
            if path.exists():
                return
            async with self._lock(session):
                if not session.covers(n):
                    await self._restart(session, n)
            assert session.child is not None
            session.child.resume()
            if not session.child.running:
                await self._ended(session, path, n)
                if path.exists():
                    return
            if time.monotonic() > deadline:
                raise Unplayable("media", session.rendition.media_id, "the transcoder is too slow for this file")
            await asyncio.sleep(POLL_S)

    async def _ended(self, session: _Session, path: Path, n: int) -> None:
        """The encoder exited without making `path` (segment `n`): a failure says why; a run that started
        there and made nothing means there is nothing there (the container claims more time than its
        video has); another run is restarted at `n` by the caller."""
        assert session.child is not None
        code = await session.child.wait()
        session.collect()
        if path.exists():
            return
        if code != 0:
            log.warning("hls encoder failed", rendition=session.rendition.name, reason=session.child.why())
            raise Unplayable("media", session.rendition.media_id, CANNOT_TRANSCODE)
        if session.start == n:
            raise NotFound("segment", n)

    async def _restart(self, session: _Session, n: int) -> None:
        if session.child is not None:
            await session.child.kill()
            session.collect()
        shutil.rmtree(session.work, ignore_errors=True)  # a half-written segment of the killed run
        session.work.mkdir(parents=True)
        r = session.rendition
        argv = hls_command(self.ffmpeg, r.url or r.source, r.plan, self.encoder, n, SEGMENT_S, r.streams)
        session.child = await self.processes.spawn(argv, cwd=str(session.work))
        session.start, session.made = n, n - 1
        log.info("hls encoder started", rendition=r.name, segment=n)

    def _session(self, rendition: Rendition) -> _Session:
        name = rendition.name
        session = self._sessions.get(name)
        if session is None:
            session = _Session(rendition, self.cache.hls_dir(name), self.cache.work_path(f"hls-{name}"))
            self._sessions[name] = session
        return session

    def _lock(self, session: _Session) -> asyncio.Lock:
        return self._locks.setdefault(session.rendition.name, asyncio.Lock())

    async def reap(self) -> None:
        """Housekeeping: collect finished segments, pause encoders far ahead, stop idle ones."""
        now = time.monotonic()
        for name, session in list(self._sessions.items()):
            session.collect()
            child = session.child
            idle = now - session.fetched > self.idle_s
            if child is not None and child.running and idle:
                await child.kill()
                session.collect()
                log.info("hls encoder stopped: nobody is fetching", rendition=name)
            else:
                session.pace()
            if idle and (child is None or not child.running):
                shutil.rmtree(session.work, ignore_errors=True)
                del self._sessions[name]
                self._locks.pop(name, None)

    async def close(self) -> None:
        for session in self._sessions.values():
            if session.child is not None:
                await session.child.kill()
            shutil.rmtree(session.work, ignore_errors=True)
        self._sessions.clear()
