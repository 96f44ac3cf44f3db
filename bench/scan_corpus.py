"""Make a folder of real, distinctly tagged mp3s cheaply, for the scan benchmark.

ffmpeg encodes a few short seed mp3s (no tags) and a few cover JPEGs once; every library file is then
an ID3v2 tag built in memory by mutagen followed by one seed's audio bytes. Encoding 10,000 files
with ffmpeg would take minutes; this takes seconds and each file still needs a real tag read.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK

from medianest.library.ffmpeg import ffmpeg_exe

SEEDS = 4
COVERS = 6
TRACKS_PER_ALBUM = 10
GENRES = ["Rock", "Jazz", "Ambient", "Folk", "Électronique", "Hip-Hop", "Classical"]
# Bump when the layout or tags change, so an old corpus on disk is rebuilt instead of reused.
VERSION = "3"


def ensure_corpus(root: Path, count: int, albums_per_artist: int) -> Path:
    """`root` holds `count` tagged mp3s; an existing corpus of the same shape is reused."""
    marker = root.parent / f"{root.name}.corpus"  # beside, not inside: no tool should see it
    shape = f"{VERSION} {count} {albums_per_artist}"
    if marker.is_file() and marker.read_text() == shape:
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    seeds = [_encode_seed(root.parent, i) for i in range(SEEDS)]
    covers = [_encode_cover(root.parent, i) for i in range(COVERS)]
    for n in range(count):
        _write_track(root, n, albums_per_artist, seeds[n % SEEDS], covers)
    marker.write_text(shape)  # written last: an interrupted build is rebuilt next time
    return root


def _encode_seed(work: Path, i: int) -> bytes:
    """Two seconds of a sine tone as a tagless CBR mp3 (with its Xing/Info header)."""
    out = work / f"seed-{i}.mp3"
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency={220 * (i + 1)}:duration=2", "-ac", "1",
            "-b:a", "64k", "-write_id3v2", "0", "-write_id3v1", "0", "-map_metadata", "-1", str(out))
    return out.read_bytes()


def _encode_cover(work: Path, i: int) -> bytes:
    out = work / f"cover-{i}.jpg"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=300x300:rate=1,hue=h={i * 60}", "-frames:v", "1", str(out))
    return out.read_bytes()


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def _write_track(root: Path, n: int, albums_per_artist: int, audio: bytes, covers: list[bytes]) -> None:
    album_no = n // TRACKS_PER_ALBUM
    artist_no = album_no // albums_per_artist
    track = n % TRACKS_PER_ALBUM + 1
    folder = root / f"Artist {artist_no:03d}" / f"Album {album_no:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    # Two albums in three carry cover art, as real libraries mostly do; the scanner stores it.
    cover = covers[album_no % COVERS] if album_no % 3 else None
    tag = _id3(n, artist_no, album_no, track, cover)
    (folder / f"{track:02d} - Song {n:05d}.mp3").write_bytes(tag + audio)


def _id3(n: int, artist_no: int, album_no: int, track: int, cover: bytes | None) -> bytes:
    tags = ID3()
    tags.add(TIT2(encoding=3, text=f"Song {n:05d} ({'ñ' if n % 5 == 0 else 'n'})"))
    tags.add(TPE1(encoding=3, text=f"Artist {artist_no:03d}"))
    tags.add(TPE2(encoding=3, text=f"Artist {artist_no:03d}"))
    tags.add(TALB(encoding=3, text=f"Album {album_no:04d}"))
    tags.add(TRCK(encoding=3, text=f"{track}/{TRACKS_PER_ALBUM}"))
    tags.add(TCON(encoding=3, text=GENRES[album_no % len(GENRES)]))
    tags.add(TDRC(encoding=3, text=str(1960 + album_no % 60)))
    if cover is not None:
        tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=cover))
    buf = io.BytesIO()
    tags.save(buf, v1=0, padding=lambda info: 0)  # into an empty buffer: just the tag's bytes
    return buf.getvalue()
