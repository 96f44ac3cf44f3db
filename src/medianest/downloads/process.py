"""One child process per download attempt, so a cancel can kill yt-dlp and its ffmpeg children at once.

The child leads its own process group (ffmpeg inherits it), and a cancel kills the group. Children
come from a fork server that has loaded yt-dlp once (`preload.py`): a fresh interpreter per job would
spend a second or two importing it and compiling its extractors' patterns before the first byte.
Messages come back over a pipe as plain dicts.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import fcntl
import multiprocessing
import os
import signal
import time
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

from medianest.downloads.safety import guard_connections
from medianest.downloads.spec import Failure

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
POLL_S = 0.05
# How long a run waits for an earlier run of the same download to stop writing: that run stops at its next
# heartbeat (downloads/runner.py), within seconds.
WRITER_WAIT_S = 60.0
_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["medianest.downloads.preload"])


def warm_up() -> None:
    """Start the fork server now (it imports yt-dlp, about a second) rather than on the first download."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


class Child:
    """`ytdlp.<target>(*args)` in its own process: "download" (reports progress, returns the file),
    "entries" (what a URL holds) or "search" (YouTube's results for some words, as `{"results": [...]}`).
    Without `allow_private`, the child can connect to public addresses only, and never to a cloud metadata
    service (`safety.guard_connections`), whatever redirects or extractors ask for."""

    def __init__(self, target: str, args: tuple[Any, ...], allow_private: bool) -> None:
        self._conn, child_end = _CTX.Pipe(duplex=False)
        self.process = _CTX.Process(target=_main, args=(target, args, allow_private, child_end), daemon=True)
        self.process.start()
        child_end.close()  # ours closed, so a dead child reads as EOF instead of a hang

    def messages(self) -> list[dict[str, Any]]:
        """Whatever the child has sent so far, without waiting; an exit without a word is a failure."""
        out: list[dict[str, Any]] = []
        try:
            while self._conn.poll():
                out.append(self._conn.recv())
        except (EOFError, OSError):
            if not out or out[-1]["type"] not in ("done", "failed"):
                out.append({"type": "failed", "reason": _exit_reason(self.process.exitcode), "transient": True})
        return out

    def kill(self) -> None:
        with suppress(ProcessLookupError, PermissionError):  # already gone
            os.killpg(self.process.pid or 0, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        self.process.join(5)
        self._conn.close()


async def run(target: str, args: tuple[Any, ...], allow_private: bool, timeout_s: float) -> dict[str, Any]:
    """A child's result, waited for without blocking the event loop; `ytdlp.Failure` when it fails,
    `TimeoutError` (the child killed) when it takes longer than `timeout_s`."""
    child = Child(target, args, allow_private)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for message in child.messages():
                if message["type"] == "done":
                    return dict(message["result"])
                if message["type"] == "failed":
                    raise Failure(message["reason"], transient=message["transient"])
            await asyncio.sleep(POLL_S)
        raise TimeoutError
    finally:
        child.kill()


def _main(target: str, args: tuple[Any, ...], allow_private: bool, conn: Connection) -> None:
    os.setsid()
    _die_with_parent()
    guard_connections(allow_private)  # with private networks allowed, it still refuses metadata services
    from medianest.downloads import ytdlp  # in the child only (the fork server has it preloaded)

    try:
        if target == "download":
            lock = sole_writer(args[0].tmp_dir)
            try:
                result = ytdlp.download(args[0], conn.send)
            finally:
                os.close(lock)  # drops the lock (a `with` would not do: `Failure` is frozen, and a
                # context manager's exit writes to the exception it is handed)
        elif target == "search":
            result = {"results": ytdlp.search(*args)}
        else:
            result = ytdlp.entries(*args)
        conn.send({"type": "done", "result": result})
    except Failure as failure:
        conn.send({"type": "failed", "reason": failure.reason, "transient": failure.transient})
    except Exception as exc:  # anything else is reported, not a silent dead child
        conn.send({"type": "failed", "reason": f"{type(exc).__name__}: {exc}"[:500], "transient": False})
    finally:
        conn.close()


def sole_writer(folder: str, wait_s: float = WRITER_WAIT_S) -> int:
    """An exclusive lock on a download's temporary folder, held while writing in it (closing the descriptor
    returned drops it). Two runs of one download can overlap: a worker that looked dead (frozen, swapping)
    has its download taken back, and keeps writing until its next heartbeat tells it so. Two yt-dlps
    appending to one `.part` file leave holes of zeros in it; the second waits here for the first to stop
    instead. The kernel drops the lock when its holder dies, kill -9 included."""
    deadline = time.monotonic() + wait_s
    while True:
        os.makedirs(folder, exist_ok=True)  # an earlier run that finished may have removed it
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # and did so just now
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise Failure("another run of this download is still writing its files", transient=True) from None
            time.sleep(POLL_S)
            continue
        if _same_folder(fd, folder):
            return fd
        os.close(fd)  # the run that held it finished and removed it: lock the new one


def _same_folder(fd: int, folder: str) -> bool:
    try:
        now = os.stat(folder)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _die_with_parent() -> None:
    """Linux: be killed when the fork server goes, which it does when the worker that owns it dies - even
    by kill -9. Otherwise an orphan would go on writing the `.part` file that the job, queued again,
    resumes. (Elsewhere the next progress report fails on the closed pipe and ends the child.)"""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _exit_reason(code: int | None) -> str:
    return "the download process was killed" if code is not None and code < 0 else "the download process died"
