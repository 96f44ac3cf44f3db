"""Locate and run the ffmpeg binary: a configured one wins, else the one shipped by imageio-ffmpeg."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


def ffmpeg_exe(configured: str | None = None) -> str:
    if configured:
        return configured
    import imageio_ffmpeg  # imported lazily: it looks for the binary on import

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(args: Sequence[str], exe: str | None = None, timeout_s: float = 120) -> None:
    """Run ffmpeg quietly; raise RuntimeError with its last lines of stderr on failure."""
    cmd = [ffmpeg_exe(exe), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' | '.join(tail)}")
