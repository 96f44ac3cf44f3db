"""`Processes`: the child processes (encoders) that a serving process runs for its own requests.

Unlike queued jobs these feed a response as it is sent, so they live in the process that serves it:
- bounded: at most `limit` at once; one more is refused with `Busy` (answered 503 with Retry-After) rather
  than queued, since a player left waiting behind a queue stalls and gives up anyway;
- never orphaned: each child asks the kernel to SIGKILL it when its parent dies (PR_SET_PDEATHSIG), so a
  server killed with -9 takes its encoders with it, and `close()` kills those left at shutdown;
- paused and resumed with SIGSTOP/SIGCONT: an encoder far ahead of its reader waits without using CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import Sequence

import structlog

from medianest.errors import Busy

log = structlog.get_logger(__name__)

PR_SET_PDEATHSIG = 1
RETRY_AFTER_S = 5  # an encoder frees up when a player stops fetching: seconds, not minutes
STDERR_LINES = 8  # what is kept of a child's stderr, to say why it failed


def _die_with_parent() -> None:
    """Run in the child between fork and exec (Linux): SIGKILL when the parent goes, however it goes."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """One running child: its process and the last lines it wrote to stderr."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self.paused = False
        self._reader = asyncio.create_task(self._read_stderr())

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def why(self) -> str:
        """Its last stderr lines, for a log or an error message."""
        return " | ".join(self.stderr) or f"exit code {self.proc.returncode}"

    def pause(self) -> None:
        if self.running and not self.paused:
            self._signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.running and self.paused:
            self._signal(signal.SIGCONT)
        self.paused = False

    async def wait(self) -> int:
        code = await self.proc.wait()
        with contextlib.suppress(Exception):
            await self._reader
        return code

    async def kill(self) -> None:
        """SIGKILL (a stopped process ignores everything else until it is continued) and reap it."""
        if self.running:
            self._signal(signal.SIGKILL)
        await self.wait()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode(errors="replace").strip()
            if text:
                self.stderr.append(text[:300])


class Processes:
    """The bounded set of children of this process; `what` names them in the 503's message."""

    def __init__(self, limit: int, what: str = "every transcoder is in use") -> None:
        self.limit = limit
        self.what = what
        self._children: set[Child] = set()

    @property
    def running(self) -> int:
        self._children = {c for c in self._children if c.running}
        return len(self._children)

    async def spawn(self, argv: Sequence[str], cwd: str | None = None) -> Child:
        """Start `argv` (stdin closed, stdout discarded, stderr kept), or raise `Busy` when full."""
        if self.running >= self.limit:
            raise Busy(self.what, RETRY_AFTER_S)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, cwd=cwd,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        child = Child(proc)
        self._children.add(child)
        log.debug("child started", pid=proc.pid, exe=os.path.basename(argv[0]))
        return child

    async def close(self) -> None:
        """Kill every child (shutdown)."""
        children, self._children = list(self._children), set()
        await asyncio.gather(*(c.kill() for c in children), return_exceptions=True)
