"""Lyrics from LRC sidecars and embedded tags (ID3 USLT/SYLT/TXXX, Vorbis comments, MP4 ©lyr), on real files
made by ffmpeg and tagged with mutagen as taggers do; and the files that must not break the reader."""

from __future__ import annotations

import os
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import mutagen
import pytest
from mutagen.apev2 import BINARY, APEValue
from mutagen.id3 import ID3, SYLT, TXXX, USLT
from mutagen.mp4 import MP4

from medianest.library import lyrics as lyrics_module
from medianest.library.ffmpeg import run_ffmpeg
from medianest.library.lyrics import (
    MAX_LINES,
    MAX_LRC_BYTES,
    MAX_TEXT_CHARS,
    Line,
    Lyrics,
    lyrics_text,
    parse_lrc,
    read_lyrics,
)

CODECS = {".mp3": "libmp3lame", ".flac": "flac", ".ogg": "libvorbis", ".opus": "libopus", ".m4a": "aac",
          ".wv": "wavpack", ".wma": "wmav2"}


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One short untagged tone per container, made once; each test tags its own copy."""
    root = tmp_path_factory.mktemp("lyrics-media")
    made = {}
    for suffix, codec in CODECS.items():
        dest = root / f"tone{suffix}"
        run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-map_metadata", "-1",
                    "-c:a", codec, str(dest)])
        made[suffix] = dest
    return made


Make = Callable[..., Path]  # (suffix, name="song") -> a fresh copy of the untagged tone


@pytest.fixture
def song(originals: dict[str, Path], tmp_path: Path) -> Make:
    def make(suffix: str, name: str = "song") -> Path:
        dest = tmp_path / f"{name}{suffix}"
        shutil.copyfile(originals[suffix], dest)
        return dest
    return make


def sidecar(media: Path, content: str | bytes, suffix: str = ".lrc") -> Path:
    path = media.with_suffix(suffix)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def synced(*lines: tuple[int, str], lang: str = "xxx", offset: int = 0, artist: str | None = None,
           title: str | None = None) -> Lyrics:
    return Lyrics(lang, True, offset, artist, title, tuple(Line(start, value) for start, value in lines))


def unsynced(*values: str, lang: str = "xxx", title: str | None = None) -> Lyrics:
    return Lyrics(lang, False, 0, None, title, tuple(Line(None, value) for value in values))


def id3_tag(media: Path, *frames: object) -> None:
    tags = ID3()
    for frame in frames:
        tags.add(frame)
    tags.save(media)


# --- LRC sidecars ---------------------------------------------------------------------------------

FULL_LRC = (
    "\ufeff[ar: Muse ]\r\n[ti:Hysteria]\r\n[la:en]\r\n[al:Absolution]\r\n[by:someone]\r\n[offset:-100]\r\n"
    "[re:some editor]\r\n\r\n"
    "[00:20.00][01:02.5]Chorus line\r\n"
    "[00:05.123]Third\r\n"
    "\r\n\r\n"
    "[00:01]First\r\n"
    "[00:03.25]  Second  \r\n"
    "[00:30.00]\r\n"
)


def test_a_sidecar_gives_synced_lines_sorted_with_its_header(song: Make) -> None:
    media = song(".mp3")
    sidecar(media, FULL_LRC)
    assert read_lyrics(str(media)) == [synced(
        (1000, "First"), (3250, "Second"), (5123, "Third"), (20000, "Chorus line"), (30000, ""),
        (62500, "Chorus line"), lang="en", offset=-100, artist="Muse", title="Hysteria")]


def test_every_timestamp_form_is_read_in_milliseconds() -> None:
    text = "[00:01]a\n[00:01.5]b\n[00:01.05]c\n[00:01.005]d\n[2:03.40]e\n[01:00:01.25]f\n[100:00.00]g"
    got = parse_lrc(text)
    assert got is not None
    assert [(line.start_ms, line.value) for line in got.lines] == [
        (1000, "a"), (1005, "d"), (1050, "c"), (1500, "b"), (123400, "e"), (3601250, "f"), (6000000, "g")]


@pytest.mark.parametrize(("header", "lang"), [("[la:ja]", "ja"), ("[lang:de]", "de"), ("[al:x]", "xxx"),
                                              ("[la:]", "xxx")])
def test_the_language_comes_from_la_or_lang_else_xxx(header: str, lang: str) -> None:
    got = parse_lrc(f"{header}\n[00:01.00]words")
    assert got is not None and got.lang == lang


@pytest.mark.parametrize(("tag", "offset"), [("+250", 250), ("-250", -250), (" 40 ", 40), ("abc", 0),
                                             ("99999999999", 0), ("", 0)])
def test_offset_is_read_in_milliseconds_and_junk_is_zero(tag: str, offset: int) -> None:
    got = parse_lrc(f"[offset:{tag}]\n[00:01.00]words")
    assert got is not None and got.offset_ms == offset


def test_text_without_timestamps_is_unsynced_lines_in_order() -> None:
    text = "[ti:Song]\n[offset:+300]\n\n[Verse 1: Someone]\nfirst line\n\n\n[Chorus: Beyoncé]\n(Chorus)\nlast  \n"
    assert parse_lrc(text) == unsynced("[Verse 1: Someone]", "first line", "[Chorus: Beyoncé]", "(Chorus)",
                                       "last", title="Song")


def test_untimed_text_in_a_synced_file_continues_the_line_before() -> None:
    # Navidrome's reading: a line without a timestamp belongs to the timed line above it; before the first
    # timed line there is nothing to attach it to. An unknown [word: ...] tag in a synced file is no text.
    text = "credits nobody sings\n[00:01.00]one\nand more\n[Chorus: X]\n[00:02.00]two"
    assert parse_lrc(text) == synced((1000, "one\nand more"), (2000, "two"))


def test_enhanced_lrc_word_times_are_not_text() -> None:
    got = parse_lrc("[00:01.00]<00:01.00>Hel<00:01.40>lo <00:02.00>world")
    assert got == synced((1000, "Hello world"))


def test_an_uppercase_sidecar_is_read_and_lowercase_comes_first(song: Make) -> None:
    media = song(".flac")
    sidecar(media, "[00:01.00]upper", ".LRC")
    assert read_lyrics(media) == [synced((1000, "upper"))]
    sidecar(media, "[00:01.00]lower", ".lrc")
    assert read_lyrics(media) == [synced((1000, "lower"))]


def test_the_sidecar_is_the_stem_with_lrc(song: Make) -> None:
    media = song(".mp3", "a.b.c")
    (media.parent / "a.b.c.mp3.lrc").write_text("[00:01.00]wrong")
    (media.parent / "a.lrc").write_text("[00:01.00]wrong")
    assert read_lyrics(media) == []
    sidecar(media, "[00:01.00]right")
    assert read_lyrics(media) == [synced((1000, "right"))]


def test_a_sidecar_wins_over_embedded_lyrics(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="embedded"))
    sidecar(media, "from the sidecar")
    assert read_lyrics(media) == [unsynced("from the sidecar")]


@pytest.mark.parametrize("content", [b"", b"\r\n \n\t\n", b"[ar:Someone]\n[ti:Title]\n", b"[00:01.00]\n[00:02]",
                                     b"\xef\xbb\xbf"])
def test_a_sidecar_without_text_leaves_the_embedded_lyrics(song: Make, content: bytes) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="embedded"))
    sidecar(media, content)
    assert read_lyrics(media) == [unsynced("embedded", lang="eng")]


def test_a_directory_named_like_the_sidecar_is_skipped(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="embedded"))
    media.with_suffix(".lrc").mkdir()
    assert read_lyrics(media) == [unsynced("embedded", lang="eng")]


def test_a_fifo_named_like_the_sidecar_is_not_opened(song: Make) -> None:
    media = song(".mp3")
    os.mkfifo(media.with_suffix(".lrc"))  # opening it would block until a writer came: forever
    assert read_lyrics(media) == []


# --- encodings ------------------------------------------------------------------------------------

TEXT = "Café déjà vu, señor"


@pytest.mark.parametrize(("data", "value"), [
    (TEXT.encode("utf-8"), TEXT),
    (TEXT.encode("utf-8-sig"), TEXT),
    (TEXT.encode("utf-16"), TEXT),  # with its BOM, in this machine's byte order
    (b"\xfe\xff" + TEXT.encode("utf-16-be"), TEXT),
    (b"\xff\xfe" + "日本語の歌詞 🎵".encode("utf-16-le"), "日本語の歌詞 🎵"),
    (TEXT.encode("latin-1"), TEXT),
    # Windows-1252's quotes are where Latin-1 has control characters, which cleaning would delete.
    (b"It\x92s \x93quoted\x94 \x96 dash", "It’s “quoted” – dash"),
    # 0x81 is undefined in Windows-1252: Latin-1 takes the file, and the control character is cleaned away.
    (b"caf\xe9\x81!", "café!"),
])
def test_sidecar_text_is_decoded(song: Make, data: bytes, value: str) -> None:
    media = song(".mp3")
    sidecar(media, data)
    got = read_lyrics(media)
    assert [line.value for line in got[0].lines] == [value]


def test_unicode_names_and_text_are_kept_and_controls_cleaned(song: Make) -> None:
    media = song(".opus", "Ünïcödé 日本語 🎵")
    sidecar(media, "[ti:歌 \u202eevil]\n[00:01.00]🎵 שלום \u202egnirts\x1b end\n[00:02.00]\u200fمرحبا\t tab")
    assert read_lyrics(media) == [synced((1000, "🎵 שלום gnirts end"), (2000, "\u200fمرحبا\t tab"),
                                         title="歌 evil")]


# --- sizes ----------------------------------------------------------------------------------------

def test_a_cut_sidecar_ends_at_its_last_whole_line(song: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    media = song(".mp3")
    content = "[00:01.00]one\n[00:02.00]two\n[00:03.00]three is a long line\n"
    monkeypatch.setattr(lyrics_module, "MAX_LRC_BYTES", content.index("long"))
    sidecar(media, content)
    assert read_lyrics(media) == [synced((1000, "one"), (2000, "two"))]


def test_a_50_mb_sidecar_is_read_only_up_to_the_limit(song: Make) -> None:
    media = song(".mp3")
    row = "[{:02d}:{:02d}.{:02d}]日本語の歌詞 ♪\n"
    rows = "".join(row.format(i // 6000, i // 100 % 60, i % 100) for i in range(40_000)).encode()
    # Pad the header so the limit falls inside a 3-byte character: cutting it must not make the text undecodable
    # as UTF-8 (and so read as Windows-1252 mojibake).
    pad = next(n for n in range(3) if (f"[#:{'x' * n}]\n".encode() + rows)[MAX_LRC_BYTES] & 0xC0 == 0x80)
    head = f"[#:{'x' * pad}]\n".encode() + rows
    with media.with_suffix(".lrc").open("wb") as file:
        file.write(head)
        file.seek(50 * 1024 * 1024)
        file.write(b"\n[00:00.00]past the limit\n")
    tracemalloc.start()
    try:
        got = read_lyrics(media)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024  # reading all 50 MB would peak above it
    assert len(got[0].lines) == MAX_LINES
    assert {line.value for line in got[0].lines} == {"日本語の歌詞 ♪"}
    assert [line.start_ms for line in got[0].lines] == [i * 10 for i in range(MAX_LINES)]


def test_many_timestamps_on_one_line_cannot_blow_up_the_response() -> None:
    stamps = "".join(f"[{i // 6000:02d}:{i // 100 % 60:02d}.{i % 100:02d}]" for i in range(30_000))
    got = parse_lrc(stamps + "x" * 20)
    assert got is not None and len(got.lines) == MAX_LINES
    got = parse_lrc(stamps[: 2000 * 10] + "y" * 1000)
    assert got is not None and len(got.lines) == MAX_TEXT_CHARS // 1000
    assert sum(len(line.value) for line in got.lines) <= MAX_TEXT_CHARS


# --- embedded: ID3 --------------------------------------------------------------------------------

def test_uslt_frames_are_unsynced_lyrics_each_with_its_language(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=1, lang="eng", desc="", text="Hello\r\nworld\r\n"),
            USLT(encoding=3, lang="XXX", desc="", text="Hallo Welt"),
            USLT(encoding=3, lang="\0\0\0", desc="other", text="Salut"))
    got = read_lyrics(media)
    assert sorted(got, key=lambda item: item.lines[0].value) == [
        unsynced("Hallo Welt"), unsynced("Hello", "world", lang="eng"), unsynced("Salut")]


def test_uslt_holding_lrc_is_synced_and_its_la_tag_wins(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="[la:ja]\n[00:02.00]二\n[00:01.00]一"),
            USLT(encoding=3, lang="eng", desc="b", text="[ar:Band]\n[00:01.00]one"))
    assert sorted(read_lyrics(media), key=lambda item: item.lang) == [
        synced((1000, "one"), lang="eng", artist="Band"), synced((1000, "一"), (2000, "二"), lang="ja")]


def test_sylt_in_milliseconds_is_synced_and_sorted(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media,
            SYLT(encoding=3, lang="eng", format=2, type=1, desc="", text=[("Second", 2500), ("First", 1000)]),
            SYLT(encoding=3, lang="eng", format=1, type=1, desc="frames", text=[("MPEG frames", 40)]),
            SYLT(encoding=3, lang="eng", format=2, type=5, desc="chords", text=[("Am", 0), ("G", 900)]))
    assert read_lyrics(media) == [synced((1000, "First"), (2500, "Second"), lang="eng")]


def test_sylt_syllables_join_into_lines_where_a_newline_starts_one(song: Make) -> None:
    media = song(".mp3")
    syllables = [("Strang", 1000), ("ers", 1200), (" in the", 1400), ("\nnight", 3000), (" ex", 3300)]
    id3_tag(media, SYLT(encoding=1, lang="deu", format=2, type=1, desc="", text=syllables))
    assert read_lyrics(media) == [synced((1000, "Strangers in the"), (3000, "night ex"), lang="deu")]


def test_sylt_and_uslt_both_come_back(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="One\nTwo"),
            SYLT(encoding=3, lang="eng", format=2, type=1, desc="", text=[("One", 0), ("Two", 1000)]))
    assert read_lyrics(media) == [synced((0, "One"), (1000, "Two"), lang="eng"), unsynced("One", "Two", lang="eng")]


def test_txxx_lyrics_frames_are_read(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, TXXX(encoding=3, desc="UNSYNCEDLYRICS", text=["From foobar"]),
            TXXX(encoding=3, desc="LYRICIST", text=["Not lyrics"]))
    assert read_lyrics(media) == [unsynced("From foobar")]


def test_an_mp3_with_damaged_audio_keeps_its_id3_lyrics(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="still here"))
    media.write_bytes(media.read_bytes()[:_id3_size(media)] + b"\0" * 4096)
    with pytest.raises(mutagen.MutagenError):
        mutagen.File(media)  # mutagen's usual entry point gives up on this file
    assert read_lyrics(media) == [unsynced("still here", lang="eng")]


def _id3_size(media: Path) -> int:
    head = media.read_bytes()[:10]
    return 10 + sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(head[6:10]))


# --- embedded: Vorbis comments and MP4 -----------------------------------------------------------

@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".opus"])
def test_vorbis_lyrics_comments_are_read(song: Make, suffix: str) -> None:
    media = song(suffix)
    audio = mutagen.File(media)
    audio["LYRICS"] = ["[ti:Vorbis]\n[00:01.50]sung"]
    audio["UNSYNCEDLYRICS"] = ["plain\nwords"]
    audio["LYRICS-ENG"] = ["english"]  # how ffmpeg copies an ID3 USLT frame
    audio["LYRICIST"] = ["not lyrics"]
    audio.save()
    got = read_lyrics(media)
    assert sorted(got, key=lambda item: item.lines[0].value) == [
        unsynced("english", lang="eng"), unsynced("plain", "words"), synced((1500, "sung"), title="Vorbis")]


def test_the_same_text_under_two_names_is_one_lyrics(song: Make) -> None:
    media = song(".flac")
    audio = mutagen.File(media)
    audio["LYRICS"] = ["[00:01.00]same"]
    audio["UNSYNCEDLYRICS"] = ["[00:01.00]same"]
    audio.save()
    assert read_lyrics(media) == [synced((1000, "same"))]


def test_mp4_lyr_atom_is_read(song: Make) -> None:
    media = song(".m4a")
    audio = MP4(media)
    audio["\xa9lyr"] = ["[00:00.50]apple\r[00:01.00]at\0oms"]  # iTunes ends lines with a bare CR
    audio.save()
    assert read_lyrics(media) == [synced((500, "apple"), (1000, "atoms"))]


def test_apev2_and_asf_lyrics_are_read(song: Make) -> None:
    wavpack = song(".wv")
    audio = mutagen.File(wavpack)  # ffmpeg wrote an APEv2 tag (its encoder's name)
    audio["Lyrics"] = ["[00:01.00]first value", "second value"]  # APEv2 keeps both, NUL-separated
    audio["Cover Art (Front)"] = APEValue(b"cover.jpg\0\xff\xd8", BINARY)
    audio.save()
    assert read_lyrics(wavpack) == [synced((1000, "first value")), unsynced("second value")]
    wma = song(".wma")
    audio = mutagen.File(wma)
    audio["WM/Lyrics"] = ["windows\r\nmedia"]
    audio.save()
    assert read_lyrics(wma) == [unsynced("windows", "media")]


def test_files_without_lyrics_have_none(song: Make) -> None:
    for suffix in CODECS:
        assert read_lyrics(song(suffix)) == []
    media = song(".flac")
    audio = mutagen.File(media)
    audio["LYRICS"] = ["   \n\n"]
    audio["TITLE"] = ["[00:01.00]a title is not lyrics"]
    audio.save()
    assert read_lyrics(media) == []


# --- files that must not break it ----------------------------------------------------------------

def test_broken_and_missing_files_give_nothing(tmp_path: Path) -> None:
    zero = tmp_path / "empty.mp3"
    zero.write_bytes(b"")
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(os.urandom(8192))
    fake_flac = tmp_path / "fake.flac"
    fake_flac.write_bytes(b"fLaC" + os.urandom(2048))
    for path in (zero, garbage, fake_flac, tmp_path / "missing.mp3", tmp_path, ""):
        assert read_lyrics(path) == []


def test_a_garbage_file_still_gets_its_sidecar(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(os.urandom(8192))
    sidecar(garbage, "[00:01.00]fine")
    assert read_lyrics(str(garbage)) == [synced((1000, "fine"))]


def test_a_binary_sidecar_is_not_lyrics(song: Make) -> None:
    media = song(".mp3")
    id3_tag(media, USLT(encoding=3, lang="eng", desc="", text="embedded"))
    sidecar(media, bytes(range(256)) * 4)  # Latin-1 would decode it: NUL says it is no text file
    assert read_lyrics(media) == [unsynced("embedded", lang="eng")]
    sidecar(media, "[00:01.00]no BOM".encode("utf-16-le"))
    assert read_lyrics(media) == [unsynced("embedded", lang="eng")]


# --- the legacy getLyrics text -------------------------------------------------------------------

def test_lyrics_text_is_the_first_lyrics_lines_in_time_order() -> None:
    first = parse_lrc("[00:02.00]two\n[00:01.00]one\n[00:03.00]\n[00:04.00]four")
    second = unsynced("other")
    assert first is not None
    assert lyrics_text([first, second]) == "one\ntwo\n\nfour"
    assert lyrics_text([second, first]) == "other"
    assert lyrics_text([]) is None
