"""The real library (tests/transcoding/media.py) holds what its names say: the transcoding tests rely on it."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest

from medianest.library.probe import probe
from tests.transcoding.media import ALBUM, ARTIST, REAL_FILES, by_name, make_real_library

# name -> (kind, container, video codec, audio codec), as the scanner's probe names them.
EXPECTED = {
    "mkv_h264_ac3": ("video", "matroska", "h264", "ac3"),
    "avi_mpeg4_mp3": ("video", "avi", "mpeg4", "mp3"),
    "m4a_alac": ("audio", "mp4", None, "alac"),
    "wma": ("audio", "asf", None, "wmav2"),
    "mp4_hevc": ("video", "mp4", "hevc", "aac"),
    "flac": ("audio", "flac", None, "flac"),
    "ogg_opus": ("audio", "ogg", None, "opus"),
    "wav": ("audio", "wav", None, "pcm_s16le"),
    "mp4_h264_10bit": ("video", "mp4", "h264", "aac"),
    "mkv_two_audio": ("video", "matroska", "h264", "aac"),
}
SECONDS = 3


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_real_library(tmp_path_factory.mktemp("real"), seconds=SECONDS)


def test_every_file_is_made_where_its_spec_says(library: dict[str, Path]) -> None:
    assert set(library) == {spec.name for spec in REAL_FILES} == set(EXPECTED)
    for spec in REAL_FILES:
        assert library[spec.name].as_posix().endswith(spec.relpath)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_codecs_and_tags_are_what_the_name_says(library: dict[str, Path], name: str) -> None:
    spec, found = by_name(name), probe(library[name])
    assert (found.kind, found.container, found.video_codec, found.audio_codec) == EXPECTED[name]
    assert found.kind == spec.kind
    assert found.title == spec.title
    assert found.duration_s == pytest.approx(SECONDS, abs=0.2)
    if spec.kind == "audio":
        assert (found.artist, found.album) == (ARTIST, ALBUM)
    else:
        assert (found.width, found.height) == (320, 240)


def test_ten_bit_is_ten_bit_and_hevc_is_tagged_for_apple(library: dict[str, Path]) -> None:
    with av.open(str(library["mp4_h264_10bit"])) as container:
        assert "10" in str(container.streams.video[0].codec_context.pix_fmt)  # yuv420p10le
    with av.open(str(library["mp4_hevc"])) as container:
        assert container.streams.video[0].codec_context.codec_tag == "hvc1"


def test_two_audio_tracks_in_two_languages(library: dict[str, Path]) -> None:
    with av.open(str(library["mkv_two_audio"])) as container:
        tracks = [(s.metadata.get("language"), s.metadata.get("title")) for s in container.streams.audio]
    assert tracks == [("eng", "English"), ("fra", "Français")]


def test_pictures_move_and_are_not_black(library: dict[str, Path]) -> None:
    with av.open(str(library["mkv_h264_ac3"])) as container:
        frames = [bytes(f.reformat(format="gray").planes[0]) for f in itertools.islice(container.decode(video=0), 30)]
    assert frames[0] != frames[-1]
    assert max(frames[0]) - min(frames[0]) > 100  # colour bars and text, not a flat frame
