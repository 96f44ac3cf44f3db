"""Subtitles as WebVTT, the one format browsers' `<track>` reads.

Sidecar SRT/ASS/SSA files are converted on the fly with pysubs2 (a few milliseconds for a film);
embedded text streams are extracted by ffmpeg once and cached by file, stream and modification time.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pysubs2

from medianest.errors import BadRequest

# A subtitle file is a few hundred KiB; one far larger is not one, and would be read into memory.
MAX_SIDECAR_BYTES = 20 * 1024 * 1024
EXTRACT_TIMEOUT_S = 120


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM), or UTF-16 with a BOM; else Windows-1252, the usual older SRT."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")  # a file cut short still shows what it has
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def parse(text: str, fmt: str) -> pysubs2.SSAFile:
    try:
        return pysubs2.SSAFile.from_string(text, format_=None if fmt == "vtt" else fmt)
    except (pysubs2.exceptions.Pysubs2Error, ValueError, KeyError) as exc:
        raise BadRequest(f"the subtitle file cannot be read ({type(exc).__name__})") from None


def to_vtt(text: str, fmt: str) -> str:
    if fmt == "vtt" and text.lstrip().startswith("WEBVTT"):
        return text
    return str(parse(text, fmt).to_string("vtt"))


def sidecar_vtt(path: Path, fmt: str) -> str:
    with path.open("rb") as fh:
        raw = fh.read(MAX_SIDECAR_BYTES + 1)
    if len(raw) > MAX_SIDECAR_BYTES:
        raise BadRequest("the subtitle file is too large")
    return to_vtt(decode(raw), fmt)


def embedded_vtt(video: Path, stream_index: int, cache_dir: Path, ffmpeg: str) -> str:
    st = video.stat()
    key = hashlib.sha256(f"{video}|{st.st_size}|{st.st_mtime_ns}|{stream_index}".encode()).hexdigest()[:32]
    cached = cache_dir / f"{key}.vtt"
    if cached.exists():
        return cached.read_text("utf-8")
    result = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(video), "-map", f"0:{stream_index}",
                             "-f", "webvtt", "-"], capture_output=True, timeout=EXTRACT_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise BadRequest("this subtitle stream cannot be converted to WebVTT")
    text = decode(result.stdout)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(cached)  # whole or not at all, whoever else extracts the same stream
    return text
