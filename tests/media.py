"""Real media files for tests, made by ffmpeg (imageio-ffmpeg): every container the library claims,
tagged and untagged, with cover art, plus corrupt, zero-byte and awkwardly named files."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from medianest.library.demo import Sample, make_cover, make_sample
from medianest.library.ffmpeg import run_ffmpeg

LONG_NAME = "Ω" * 60 + " very long name " + "x" * 80  # 120 + 96 bytes: near the 255-byte limit


@dataclass(frozen=True)
class Fixture:
    relpath: str
    sample: Sample | None
    cover: bool = False


def _s(rel: str, kind: str, title: str, artist: str, album: str, track: int, genre: str = "Test",
       seconds: float = 3, tone: int = 440, cover: bool = False) -> Fixture:
    sample = Sample(rel, kind, title, artist, album, track, genre, 2020, seconds, tone)
    return Fixture(rel, sample, cover)


TAGGED = (
    _s("Music/Björk Tribute/Homogenic/01 Jóga.mp3", "audio", "Jóga", "Björk Tribute", "Homogenic", 1,
       "Électronique", cover=True),
    _s("Music/Björk Tribute/Homogenic/02 Bachelorette.m4a", "audio", "Bachelorette", "Björk Tribute",
       "Homogenic", 2, "Électronique", cover=True),
    _s("Music/Steady Hands/Loops/01 Circle.flac", "audio", "Circle", "Steady Hands", "Loops", 1, "Ambient",
       cover=True, tone=523),
    _s("Music/Steady Hands/Loops/02 Square.opus", "audio", "Square", "Steady Hands", "Loops", 2, "Ambient"),
    _s("Videos/Clips/Bars.mp4", "video", "Bars Clip", "Camera One", "Clips", 1, "Demo", seconds=4),
    _s("Videos/Clips/Motion.webm", "video", "Motion Study", "Camera One", "Clips", 2, "Demo", seconds=3),
    _s("Videos/Clips/Matroska.mkv", "video", "Matroska Sample", "Camera Two", "Clips", 3, "Demo", seconds=3),
)


def build_library(root: Path) -> dict[str, Path]:
    """Write the fixture library under `root`; returns name -> path for the interesting files."""
    cover = make_cover(root / ".cover.jpg", "orange")
    files = {}
    for fx in TAGGED:
        assert fx.sample is not None
        files[fx.sample.title] = make_sample(fx.sample, root / fx.relpath, cover if fx.cover else None)
    cover.unlink()
    files["untagged"] = _untagged(root / "Unsorted" / "my_untagged_song.mp3")
    files["unicode"] = _untagged(root / "Unsorted" / "Ünïcödé 日本語 🎵.mp3")
    files["long"] = _untagged(root / "Unsorted" / f"{LONG_NAME}.mp3")
    files["corrupt"] = _write(root / "Broken" / "corrupt.mp3", os.urandom(4096))
    files["corrupt_video"] = _write(root / "Broken" / "corrupt.mkv", b"\x1aE\xdf\xa3" + os.urandom(2048))
    files["zero"] = _write(root / "Broken" / "empty.flac", b"")
    _write(root / "Unsorted" / "notes.txt", b"not media")  # ignored: not a media type
    return files


def _untagged(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=660:duration=2", "-map_metadata", "-1",
                "-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "1", str(dest)])
    return dest


def _write(dest: Path, data: bytes) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def copy_library(source: Path, dest: Path) -> None:
    shutil.copytree(source, dest, dirs_exist_ok=True)


def tone(dest: Path, codec: str, title: str, seconds: float = 3) -> Path:
    """A tagged tone in any ffmpeg audio encoder, e.g. "wmav2" in a .wma or "alac" in an .m4a (formats a
    browser does not play), "libmp3lame" in an .mp3."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-metadata", f"title={title}",
                "-metadata", "artist=Odd Formats", "-c:a", codec, str(dest)])
    return dest
