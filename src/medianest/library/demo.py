"""`medianest demo`: a small library of generated, tagged audio and video made by ffmpeg."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medianest.library.ffmpeg import run_ffmpeg


@dataclass(frozen=True)
class Sample:
    relpath: str
    kind: str
    title: str
    artist: str
    album: str
    track: int
    genre: str
    year: int
    seconds: float = 6.0
    tone_hz: int = 440


DEMO: tuple[Sample, ...] = (
    Sample("Music/Aurora Lines/Northern Drift/01 Morning Tide.mp3", "audio", "Morning Tide", "Aurora Lines",
           "Northern Drift", 1, "Ambient", 2021, 8, 330),
    Sample("Music/Aurora Lines/Northern Drift/02 Glass Harbour.mp3", "audio", "Glass Harbour", "Aurora Lines",
           "Northern Drift", 2, "Ambient", 2021, 8, 392),
    Sample("Music/Café Électrique/Rue des Ondes/01 Été Sans Fin.m4a", "audio", "Été Sans Fin",
           "Café Électrique", "Rue des Ondes", 1, "Électro", 2019, 7, 523),
    Sample("Music/Café Électrique/Rue des Ondes/02 Minuit.flac", "audio", "Minuit", "Café Électrique",
           "Rue des Ondes", 2, "Électro", 2019, 7, 587),
    Sample("Music/Quiet Rooms/Low Light/01 Ember.opus", "audio", "Ember", "Quiet Rooms", "Low Light", 1,
           "Lo-fi", 2023, 6, 262),
    Sample("Videos/Test Patterns/Colour Bars.mp4", "video", "Colour Bars", "MediaNest", "Test Patterns", 1,
           "Demo", 2024, 10),
    Sample("Videos/Test Patterns/Moving Target.webm", "video", "Moving Target", "MediaNest", "Test Patterns",
           2, "Demo", 2024, 8),
)


def make_cover(dest: Path, color: str, ffmpeg: str | None = None) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c={color}:s=300x300:d=1", "-frames:v", "1", str(dest)], ffmpeg)
    return dest


def make_sample(sample: Sample, dest: Path, cover: Path | None = None, ffmpeg: str | None = None) -> Path:
    """Write one tagged file (with cover art when given and the container holds one)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta = {"title": sample.title, "artist": sample.artist, "album": sample.album, "track": str(sample.track),
            "genre": sample.genre, "date": str(sample.year), "album_artist": sample.artist}
    tags = [arg for k, v in meta.items() for arg in ("-metadata", f"{k}={v}")]
    run_ffmpeg([*_inputs(sample, cover), *tags, *_codecs(dest.suffix, cover is not None), str(dest)], ffmpeg)
    return dest


def _inputs(sample: Sample, cover: Path | None) -> list[str]:
    audio = ["-f", "lavfi", "-i", f"sine=frequency={sample.tone_hz}:duration={sample.seconds}"]
    if sample.kind == "video":
        return ["-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=15:duration={sample.seconds}", *audio]
    return audio + (["-i", str(cover)] if cover else [])


def _codecs(suffix: str, with_cover: bool) -> list[str]:
    cover_map = ["-map", "0:a", "-map", "1:v", "-c:v", "copy", "-disposition:v", "attached_pic"]
    table = {
        ".mp3": ["-c:a", "libmp3lame", "-b:a", "128k", *([*cover_map, "-id3v2_version", "3"] if with_cover else [])],
        ".m4a": ["-c:a", "aac", "-b:a", "96k", *(cover_map if with_cover else [])],
        ".flac": ["-c:a", "flac", *(cover_map if with_cover else [])],
        ".opus": ["-c:a", "libopus", "-b:a", "64k"],
        ".ogg": ["-c:a", "libvorbis"],
        ".wav": ["-c:a", "pcm_s16le"],
        ".mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                 "-movflags", "+faststart"],
        ".webm": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus"],
        ".mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "libvorbis"],
    }
    return table[suffix]


def generate(root: Path, ffmpeg: str | None = None, on_file: Callable[[Path], None] | None = None) -> list[Path]:
    """Create the demo library under `root`, skipping files that already exist."""
    root.mkdir(parents=True, exist_ok=True)
    cover = make_cover(root / ".demo-cover.jpg", "teal", ffmpeg)
    made = []
    try:
        for sample in DEMO:
            dest = root / sample.relpath
            if not dest.exists():
                make_sample(sample, dest, cover if sample.kind == "audio" else None, ffmpeg)
            made.append(dest)
            if on_file:
                on_file(dest)
    finally:
        cover.unlink(missing_ok=True)
    return made
