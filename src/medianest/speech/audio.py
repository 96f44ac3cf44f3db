"""The spoken pieces joined into one audio file in the user's format, tagged: the scanner reads the title,
artist and album back from the file when the download lands in the library."""

from __future__ import annotations

import asyncio
from pathlib import Path

from medianest.downloads.spec import Failure
from medianest.speech.children import finish

ARTIST = ALBUM = "Text to speech"
GENRE = "Speech"
# Mono speech: these rates sound clean and keep an hour of it within 15-30 MB.
CODECS: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "opus": ["-c:a", "libopus", "-b:a", "32k"],
    "flac": ["-c:a", "flac"],
}
# An hour of speech encodes in well under a minute; only a stuck ffmpeg takes this long.
ENCODE_TIMEOUT_S = 1800.0


def ffmpeg_args(pieces: list[Path], listing: Path, out: Path, audio_format: str, title: str) -> list[str]:
    """ffmpeg's arguments: the pieces in order (the concat demuxer, one decoder for all of them), mono,
    encoded for `audio_format`, with the tags."""
    listing.write_text("".join(f"file '{_quoted(p)}'\n" for p in pieces), encoding="utf-8")
    tags = {"title": title, "artist": ARTIST, "album_artist": ARTIST, "album": ALBUM, "genre": GENRE}
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    # Local files only: the pieces are ours, but nothing in a listing may make ffmpeg fetch anything.
    return ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0",
            "-protocol_whitelist", "file,pipe", "-i", str(listing), "-vn", "-ac", "1", *CODECS[audio_format],
            *metadata, str(out)]


def _quoted(path: Path) -> str:
    """A path inside the concat list's single quotes (a quote itself is closed, escaped and reopened)."""
    return str(path.resolve()).replace("'", "'\\''")


async def join(ffmpeg: str, pieces: list[Path], out: Path, audio_format: str, title: str) -> None:
    """`pieces` as one file `out`; ffmpeg runs as a child killed on a cancel or after ENCODE_TIMEOUT_S."""
    args = ffmpeg_args(pieces, out.with_name("pieces.txt"), out, audio_format, title)
    child = await asyncio.create_subprocess_exec(ffmpeg, *args, stdin=asyncio.subprocess.DEVNULL,
                                                 stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    err = await finish(child, None, ENCODE_TIMEOUT_S, "encoding the speech took too long")
    if child.returncode != 0:
        tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        raise Failure(f"encoding the speech failed: {tail}"[:500], transient=False)
