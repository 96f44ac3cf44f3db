"""`TranscodeCache`: finished transcodes and HLS segments on disk, bounded in size, least recently used
going first.

    <data dir>/transcodes/
      audio/<key>.<ext>         finished progressive transcodes, served later as plain files with Ranges
      hls/<name>/init.mp4, s<N>.m4s   finished HLS segments of one rendition of one file
      work/<host>-<pid>/...     what the encoders of server process <pid> on <host> are still writing

Encoders write only under their own process's `work/` folder, and finished files are moved out with an
atomic rename: a reader never sees half a file, two server processes never write the same file, and what
a crash or a kill -9 leaves is a `work/<host>-<pid>` whose process is gone, removed by the next
`prepare()` on that host. Containers sharing one data volume each have their own host name (and may
have the same pids); another host's folder is left to it, unless it has not changed for a day.
Reading an entry touches it (its mtime is its last use); `sweep` removes the oldest until the whole cache,
work in progress included, fits the bound. A file removed while a response still reads it stays readable
to that response (POSIX), so a sweep never breaks a stream in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
OTHER_HOST_STALE_S = 24 * 3600


@dataclass
class _Entry:
    path: Path
    size: int
    used: float


class TranscodeCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.audio = root / "audio"
        self.hls = root / "hls"
        self.work = root / "work" / f"{socket.gethostname()}-{os.getpid()}"

    def prepare(self) -> None:
        """Make the folders; remove what dead processes left being written (a crash, a kill -9), and this
        process's own leftovers (a pid is reused after a restart)."""
        shutil.rmtree(self.work, ignore_errors=True)
        for folder in (self.audio, self.hls, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        for other in self.work.parent.iterdir():
            if other != self.work and _abandoned(other):
                shutil.rmtree(other, ignore_errors=True)
                log.info("removed an unfinished transcode of a process that is gone", folder=other.name)

    def audio_path(self, key: str, ext: str) -> Path:
        return self.audio / f"{key}.{ext}"

    def work_path(self, name: str) -> Path:
        return self.work / name

    def hls_dir(self, name: str) -> Path:
        return self.hls / name

    def promote(self, done: Path, final: Path) -> None:
        """Move a finished file (in the work folder, so already counted) into the cache, making room first."""
        self.sweep(keep=final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(done, final)

    def sweep(self, room: int = 0, keep: Path | None = None) -> int:
        """Remove least recently used entries until the cache plus `room` bytes fits; returns bytes freed.
        `keep` (an entry being added to) is never removed."""
        entries = self._entries()
        total = sum(e.size for e in entries) + _size(self.work.parent)
        freed = 0
        for entry in sorted(entries, key=lambda e: e.used):
            if total + room <= self.max_bytes:
                break
            if keep is not None and (entry.path == keep or keep.is_relative_to(entry.path)):
                continue
            _remove(entry.path)
            total -= entry.size
            freed += entry.size
        return freed

    def size(self) -> int:
        return sum(e.size for e in self._entries()) + _size(self.work.parent)

    def _entries(self) -> list[_Entry]:
        found = []
        for folder in (self.audio, self.hls):
            with contextlib.suppress(FileNotFoundError), os.scandir(folder) as it:
                for item in it:
                    with contextlib.suppress(FileNotFoundError):
                        st = item.stat(follow_symlinks=False)
                        size = _size(Path(item.path)) if item.is_dir(follow_symlinks=False) else st.st_size
                        found.append(_Entry(Path(item.path), size, st.st_mtime))
        return found


def key_of(*parts: object) -> str:
    """A cache key: the same inputs, the same file (a changed source has another size or mtime)."""
    return hashlib.blake2b("\0".join(map(str, parts)).encode(), digest_size=16).hexdigest()


def touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _size(folder: Path) -> int:
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for dirpath, _, files in os.walk(folder):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _abandoned(folder: Path) -> bool:
    """Whether a work folder's process is gone: a dead pid on this host, or a day without change on another."""
    host, _, pid = folder.name.rpartition("-")
    if host == socket.gethostname():
        return not _alive(pid)
    try:
        return time.time() - folder.stat().st_mtime > OTHER_HOST_STALE_S
    except FileNotFoundError:
        return False


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
