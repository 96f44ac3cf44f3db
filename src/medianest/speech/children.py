"""A child program of speech (eSpeak NG, ffmpeg), waited for without blocking and never left behind."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from medianest.downloads.spec import Failure


async def finish(child: asyncio.subprocess.Process, stdin: bytes | None, timeout_s: float, too_long: str) -> bytes:
    """`child` fed `stdin` and waited for at most `timeout_s` (then a transient `Failure(too_long)`); killed
    and reaped whatever ends the wait (a timeout, a cancel). Returns what it wrote to stderr."""
    try:
        _, err = await asyncio.wait_for(child.communicate(stdin), timeout_s)
    except TimeoutError:
        raise Failure(too_long, transient=True) from None
    finally:
        if child.returncode is None:
            with suppress(ProcessLookupError):
                child.kill()
            await child.wait()
    return err or b""
