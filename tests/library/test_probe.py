"""Tags and codec names of every container the scanner accepts, read through a real scan and the API.

The files are made by ffmpeg; where ffmpeg does not write a tag format the way real taggers do (ASF
attributes such as `WM/Year` and `WM/Picture`, ID3 chunks in WAV and AIFF, APEv2), mutagen writes it
on an untagged file, as Windows Media Player, foobar2000 or Picard would.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import mutagen
import pytest
from mutagen.apev2 import APEv2
from mutagen.asf import ASF, ASFByteArrayAttribute
from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TPOS, TRCK
from mutagen.id3 import delete as delete_id3
from mutagen.mp4 import MP4
from sqlalchemy import select

from medianest.library.demo import make_cover
from medianest.library.ffmpeg import run_ffmpeg
from medianest.library.models import Media
from medianest.library.probe import probe
from tests.conftest import Api

TAGS = {"title": "", "artist": "Tag Artist", "album": "Tag Album", "album_artist": "Tag Album Artist",
        "track": 4, "disc": 2, "year": 2004, "genre": "Jazz"}
# RIFF INFO (WAV, AVI) has no album artist or disc; ID3v1 has neither, nor a free-text genre.
NO_AA_DISC = {"album_artist": None, "disc": None}

SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
PICTURE = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1"]
# No tags from ffmpeg itself (not even its encoder's name): mutagen writes them afterwards.
BARE = ["-map_metadata", "-1", "-fflags", "+bitexact"]

# file -> (ffmpeg output options, who writes the tags (ffmpeg, or mutagen afterwards), expected overrides,
#          (audio codec, video codec), cover art expected (None: a video, whose artwork is its thumbnail))
CASES: dict[str, tuple[list[str], str, dict[str, Any], tuple[str | None, str | None], bool | None]] = {
    "asf.wma": (["-c:a", "wmav2", *BARE], "asf", {}, ("wmav2", None), True),
    "riff-info.wav": (["-c:a", "pcm_s16le"], "ffmpeg", NO_AA_DISC, ("pcm_s16le", None), False),
    "id3-chunk.wav": (["-c:a", "pcm_s16le", *BARE], "id3", {}, ("pcm_s16le", None), True),
    "id3.aiff": (["-c:a", "pcm_s16be", *BARE], "id3", {}, ("pcm_s16be", None), True),
    "mp3-audio.avi": (["-c:v", "mpeg4", "-c:a", "libmp3lame"], "ffmpeg", NO_AA_DISC, ("mp3", "mpeg4"), None),
    "alac.m4a": (["-c:a", "alac"], "ffmpeg", {}, ("alac", None), False),
    "ac3.m4a": (["-c:a", "ac3", "-f", "mp4"], "ffmpeg", {}, ("ac3", None), False),
    "vorbis.ogg": (["-c:a", "libvorbis"], "ffmpeg", {}, ("vorbis", None), False),
    "opus.opus": (["-c:a", "libopus"], "ffmpeg", {}, ("opus", None), False),
    "flac.flac": (["-c:a", "flac"], "ffmpeg", {}, ("flac", None), False),
    "apev2.wv": (["-c:a", "wavpack", *BARE], "ape", {}, ("wavpack", None), True),
    "id3v1.mp3": (["-c:a", "libmp3lame", *BARE], "id3v1", NO_AA_DISC, ("mp3", None), False),
    "layer2.mp3": (["-c:a", "mp2", "-f", "mp2"], "id3", {}, ("mp2", None), True),
    "id3.aac": (["-c:a", "aac", "-write_id3v2", "1"], "ffmpeg", {}, ("aac", None), False),
    "tags.mkv": (["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libvorbis"], "ffmpeg", {},
                 ("vorbis", "h264"), None),
    "av1.mkv": (["-c:v", "libaom-av1", "-cpu-used", "8", "-c:a", "libopus"], "ffmpeg", {}, ("opus", "av1"), None),
    "vp9.webm": (["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"], "ffmpeg",
                 {}, ("opus", "vp9"), None),
    "hevc.mp4": (["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-c:a", "aac"], "ffmpeg", {},
                 ("aac", "hevc"), None),
}

DIRTY_TITLE = "Dirty\x01 Ti\u202etle\x00second value"
CLEAN_TITLE = "Dirty Title"
LONG_ARTIST, LONG_GENRE = "A" * 2000, "G" * 300  # the columns hold 1024 and 255 characters
# One file per tag reader: ID3, Vorbis comments, MP4 atoms, APEv2 (mutagen); ASF, RIFF INFO, Matroska (PyAV).
DIRTY = {"id3.mp3": "libmp3lame", "vorbis.flac": "flac", "atoms.m4a": "aac", "apev2.wv": "wavpack",
         "asf.wma": "wmav2", "riff-info.wav": "pcm_s16le", "matroska.mka": "libvorbis"}
BIDI_NAME = "Evil\u202egpj.mp3"  # an untagged file: its title comes from this name


def _tags(title: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in {**TAGS, "title": title}.items() if k not in exclude}


def _ffmpeg_tags(tags: dict[str, Any]) -> list[str]:
    names = {"year": "date"}
    return [a for k, v in tags.items() for a in ("-metadata", f"{names.get(k, k)}={v}")]


def _make(dest: Path, options: list[str], writer: str, tags: dict[str, Any], cover: bytes) -> None:
    inputs = [*PICTURE, *SINE] if any(o.startswith("-c:v") for o in options) else SINE
    run_ffmpeg([*inputs, *(_ffmpeg_tags(tags) if writer == "ffmpeg" else []), *options, str(dest)])
    if writer != "ffmpeg":
        {"asf": _write_asf, "id3": _write_id3, "id3v1": _write_id3v1, "ape": _write_ape, "mp4": _write_mp4,
         "vorbis": _write_vorbis}[writer](dest, tags, cover)


def _write_asf(dest: Path, tags: dict[str, Any], cover: bytes) -> None:
    """The attributes Windows Media Player writes, and a WM/Picture (type, size, MIME, description, data)."""
    asf = ASF(dest)
    names = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle", "album_artist": "WM/AlbumArtist",
             "track": "WM/TrackNumber", "disc": "WM/PartOfSet", "year": "WM/Year", "genre": "WM/Genre"}
    for key, value in tags.items():
        asf[names[key]] = [str(value)]
    mime = "image/jpeg".encode("utf-16-le") + b"\0\0"
    asf["WM/Picture"] = [ASFByteArrayAttribute(struct.pack("<bI", 3, len(cover)) + mime + b"\0\0" + cover)]
    asf.save()


def _write_id3(dest: Path, tags: dict[str, Any], cover: bytes) -> None:
    """ID3v2 in an MP3, or as the `ID3 ` chunk of a WAV or AIFF."""
    frames = {"title": TIT2, "artist": TPE1, "album": TALB, "album_artist": TPE2, "track": TRCK,
              "disc": TPOS, "year": TDRC, "genre": TCON}
    audio = mutagen.File(dest)
    assert audio is not None
    if audio.tags is None:
        audio.add_tags()
    for key, value in tags.items():
        audio.tags.add(frames[key](encoding=3, text=[str(value)]))
    audio.tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=cover))
    audio.save()


def _write_id3v1(dest: Path, tags: dict[str, Any], cover: bytes) -> None:
    """Only the 128-byte ID3v1.1 trailer: mutagen writes both versions, then drops the ID3v2 one."""
    _write_id3(dest, {k: v for k, v in tags.items() if k not in NO_AA_DISC}, cover)
    id3 = ID3(dest)
    id3.save(v1=2)
    delete_id3(dest, delete_v1=False, delete_v2=True)


def _write_ape(dest: Path, tags: dict[str, Any], cover: bytes) -> None:
    """APEv2 with the keys foobar2000 and Mp3tag write."""
    ape = APEv2()
    names = {"album_artist": "Album Artist", "track": "Track", "disc": "Disc", "year": "Year"}
    for key, value in tags.items():
        ape[names.get(key, key.title())] = str(value)
    ape["Cover Art (Front)"] = b"cover.jpg\0" + cover
    ape.save(dest)


def _write_mp4(dest: Path, tags: dict[str, Any], cover: bytes) -> None:
    mp4 = MP4(dest)
    mp4["\xa9nam"], mp4["\xa9ART"], mp4["\xa9gen"] = tags["title"], tags["artist"], tags["genre"]
    mp4.save()


def _write_vorbis(dest: Path, tags: dict[str, Any], cover: bytes) -> None:
    audio = mutagen.File(dest)
    assert audio is not None
    for key in ("title", "artist", "genre"):
        audio[key] = tags[key]
    audio.save()


@pytest.fixture(scope="session")
def tag_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tag-formats")
    (root / "formats").mkdir()
    (root / "dirty").mkdir()
    cover = make_cover(root / "cover.jpg", "purple").read_bytes()
    for name, (options, writer, _, _, _) in CASES.items():
        _make(root / "formats" / name, options, writer, _tags(f"Title of {name}"), cover)
    dirty = {"title": DIRTY_TITLE, "artist": LONG_ARTIST, "genre": LONG_GENRE}
    writers = {"id3.mp3": "id3", "vorbis.flac": "vorbis", "atoms.m4a": "mp4", "apev2.wv": "ape", "asf.wma": "asf"}
    for name, codec in DIRTY.items():
        writer = writers.get(name, "ffmpeg")
        tags = dirty if writer != "ffmpeg" else {**dirty, "title": DIRTY_TITLE.split("\0")[0]}  # argv: no NUL
        _make(root / "dirty" / name, ["-c:a", codec, *BARE], writer, tags, cover)
    run_ffmpeg([*SINE, *BARE, "-c:a", "libmp3lame", str(root / "dirty" / BIDI_NAME)])
    return root


@pytest.fixture
def media_dir(tmp_path: Path, tag_source: Path, request: pytest.FixtureRequest) -> Path:
    """Replaces conftest's library: a test scans one folder of `tag_source`, named by its parameter."""
    dest = tmp_path / "media"
    shutil.copytree(tag_source / request.param, dest)
    return dest


async def _scanned(api: Api) -> dict[str, dict[str, Any]]:
    """Every item as the API gives it, by file name, after a full scan that failed on nothing."""
    token = await api.setup_admin()
    scan = await api.scan()
    assert (scan["status"], scan["failed"], scan["error"]) == ("completed", 0, None), scan
    async with api.app.state.parts.sessions() as session:
        names = {str(i): Path(p).name for i, p in await session.execute(select(Media.id, Media.path))}
    return {names[item["id"]]: item for item in await api.all_media(token)}


def _expected(name: str) -> dict[str, Any]:
    _, _, overrides, (audio, video), cover = CASES[name]
    return {**_tags(f"Title of {name}"), **overrides, "audio_codec": audio, "video_codec": video,
            "cover": cover}


def _got(item: dict[str, Any]) -> dict[str, Any]:
    got = {k: item[k] for k in (*TAGS, "audio_codec", "video_codec")}
    return {**got, "cover": item["artwork_url"] is not None if item["kind"] == "audio" else None}


@pytest.mark.parametrize("media_dir", ["formats"], indirect=True)
async def test_every_accepted_container_gives_its_tags_codec_names_and_cover(api: Api) -> None:
    items = await _scanned(api)
    assert {name: _got(items[name]) for name in CASES} == {name: _expected(name) for name in CASES}


@pytest.mark.parametrize("media_dir", ["dirty"], indirect=True)
async def test_controls_nul_and_bidi_overrides_in_tags_are_stored_cleaned_and_cut_to_the_columns(
        api: Api) -> None:
    items = await _scanned(api)
    row = {"title": CLEAN_TITLE, "artist": LONG_ARTIST[:1024], "genre": LONG_GENRE[:255]}
    assert {n: {k: items[n][k] for k in row} for n in DIRTY} == dict.fromkeys(DIRTY, row)
    assert items[BIDI_NAME]["title"] == "Evilgpj"
    async with api.app.state.parts.sessions() as session:
        stored = (await session.execute(select(Media.title, Media.artist, Media.genre))).all()
    bad = {"\x00", "\x01", "\u202e"}
    assert not [value for r in stored for value in r if value and bad & set(value)]


def test_a_wav_with_zeros_past_its_riff_chunk_is_read_to_the_chunk_end_only(tag_source: Path,
                                                                             tmp_path: Path) -> None:
    """A preallocated or damaged WAV: 256 MiB of zeros (sparse) after the RIFF chunk. FFmpeg walked
    them 8 bytes at a time (100 s a GiB) and took the file's size for the bitrate."""
    wav = tmp_path / "padded.wav"
    shutil.copy(tag_source / "formats" / "riff-info.wav", wav)
    size = wav.stat().st_size
    with wav.open("r+b") as f:
        f.truncate(size + 256 * 1024**2)
    result = probe(wav)
    assert (result.title, result.artist, result.audio_codec) == ("Title of riff-info.wav", "Tag Artist", "pcm_s16le")
    assert result.duration_s is not None and abs(result.duration_s - 1) < 0.05
    assert result.bitrate is not None and abs(result.bitrate - size * 8) < 100_000  # the chunk's rate
