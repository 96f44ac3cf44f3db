"""A typical real library, made by the bundled ffmpeg, for the transcoding tests (issue 15: every file the
scanner accepts plays in the browser).

tests/media.py makes files a browser plays as they are. These are the ones people really have and a
browser does not (or not everywhere): H.264 with AC3 in Matroska, MPEG-4 Part 2 with MP3 in AVI, ALAC,
WMA, HEVC, 10-bit H.264, a film with two audio languages, next to the easy ones (FLAC, Opus, WAV). Each
carries a title tag (what the scanner shows) and, for audio, artist and album. Pictures are `testsrc2`
(moving and colourful: a decoded frame is never mistaken for a black one) and sound is a stereo sine, so
a test can check what it decodes. At the default 20 s and 320x240 the whole set takes a few seconds
(the files are made two or more at a time, one ffmpeg per core).

`make_movie_1080p` is the benchmark's film (bench/transcode_bench.py): 1080p H.264 with AC3 in MKV.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from medianest.library.ffmpeg import run_ffmpeg


@dataclass(frozen=True)
class RealFile:
    name: str  # short id, e.g. "mkv_h264_ac3"
    relpath: str  # path under the library root
    title: str  # the title tag written into the file (what the scanner will show)
    kind: str  # "audio" | "video"
    seconds: float


REAL_FILES: tuple[RealFile, ...] = (
    RealFile("mkv_h264_ac3", "Real/Movie H264 AC3.mkv", "Real H264 AC3 Movie", "video", 20),
    RealFile("avi_mpeg4_mp3", "Real/Old Clip MPEG4.avi", "Real MPEG-4 AVI Clip", "video", 20),
    RealFile("m4a_alac", "Real/Music/Lossless Artist/01 ALAC Song.m4a", "Real ALAC Song", "audio", 20),
    RealFile("wma", "Real/Music/Windows Artist/01 WMA Song.wma", "Real WMA Song", "audio", 20),
    RealFile("mp4_hevc", "Real/Phone HEVC.mp4", "Real HEVC Phone Video", "video", 20),
    RealFile("flac", "Real/Music/Lossless Artist/02 FLAC Song.flac", "Real FLAC Song", "audio", 20),
    RealFile("ogg_opus", "Real/Music/Free Artist/01 Opus Song.ogg", "Real Opus Song", "audio", 20),
    RealFile("wav", "Real/Music/Studio/Take 1.wav", "Real WAV Take", "audio", 20),
    RealFile("mp4_h264_10bit", "Real/Anime 10bit.mp4", "Real 10-bit H264", "video", 20),
    RealFile("mkv_two_audio", "Real/Film Two Languages.mkv", "Real Two Languages Film", "video", 20),
)

ARTIST, ALBUM = "Real Library", "Formats People Have"

# Fast settings: the content only has to decode, not look good. `-g 48` is a key frame every 2 s at 24 fps.
_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "48"]
_AAC = ["-c:a", "aac", "-b:a", "96k"]

# Each file's codec options (after its inputs: video first when there is one, then one sine per audio track).
_CODECS: dict[str, list[str]] = {
    "mkv_h264_ac3": [*_X264, "-pix_fmt", "yuv420p", "-c:a", "ac3", "-b:a", "192k"],
    "avi_mpeg4_mp3": ["-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-b:a", "128k"],
    "m4a_alac": ["-c:a", "alac"],
    "wma": ["-c:a", "wmav2", "-b:a", "128k"],
    "mp4_hevc": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1",
                 "-pix_fmt", "yuv420p", *_AAC],
    "flac": ["-c:a", "flac"],
    "ogg_opus": ["-c:a", "libopus", "-b:a", "96k"],
    "wav": ["-c:a", "pcm_s16le"],
    "mp4_h264_10bit": [*_X264, "-profile:v", "high10", "-pix_fmt", "yuv420p10le", *_AAC],
    "mkv_two_audio": [*_X264, "-pix_fmt", "yuv420p", *_AAC,
                      "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=English",
                      "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Français"],
}
# The sine of each audio track: a second track at another pitch, so a test can hear which one it got.
_TONES: dict[str, tuple[int, ...]] = {"mkv_two_audio": (440, 880)}
_SAMPLE_RATES = {"ogg_opus": 48000}  # Opus knows 48 kHz, not the sine's default 44.1 kHz


def by_name(name: str) -> RealFile:
    return next(spec for spec in REAL_FILES if spec.name == name)


def make_real_library(root: Path, seconds: float = 20) -> dict[str, Path]:
    """Write every file of REAL_FILES under `root` (one ffmpeg per core at a time); name -> path."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        paths = pool.map(lambda spec: make_one(spec, root / spec.relpath, seconds), REAL_FILES)
        return {spec.name: path for spec, path in zip(REAL_FILES, paths, strict=True)}


def make_one(spec: RealFile, dest: Path, seconds: float | None = None, size: str = "320x240", rate: int = 24) -> Path:
    """Write `spec` to `dest` (any folder; made if missing): `seconds` long (default: the spec's)."""
    duration = spec.seconds if seconds is None else seconds
    sources = [f"testsrc2=size={size}:rate={rate}:duration={duration}"] if spec.kind == "video" else []
    rate_opt = f":sample_rate={_SAMPLE_RATES[spec.name]}" if spec.name in _SAMPLE_RATES else ""
    sources += [f"sine=frequency={tone}:duration={duration}{rate_opt}" for tone in _TONES.get(spec.name, (440,))]
    inputs = [arg for source in sources for arg in ("-f", "lavfi", "-i", source)]
    maps = [arg for i in range(len(sources)) for arg in ("-map", str(i))]
    tags = ["-metadata", f"title={spec.title}"]
    if spec.kind == "audio":
        tags += ["-metadata", f"artist={ARTIST}", "-metadata", f"album={ALBUM}"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg([*inputs, *maps, "-ac", "2", *_CODECS[spec.name], *tags, str(dest)])
    return dest


def make_movie_1080p(dest: Path, seconds: float = 60) -> Path:
    """A 1920x1080 24 fps H.264 film (libx264 veryfast, a key frame every 2 s) with stereo AC3, in MKV."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=24:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-map", "0", "-map", "1",
                "-c:v", "libx264", "-preset", "veryfast", "-g", "48", "-pix_fmt", "yuv420p",
                "-c:a", "ac3", "-b:a", "384k", "-ac", "2", "-metadata", "title=Benchmark Film 1080p", str(dest)],
               timeout_s=max(120, seconds * 10))
    return dest
