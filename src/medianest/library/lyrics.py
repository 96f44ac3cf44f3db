"""Read a song's lyrics for the OpenSubsonic `songLyrics` extension (getLyricsBySongId) and legacy getLyrics.

Sources, as Navidrome orders them: an LRC sidecar beside the file (`song.lrc`, else `song.LRC`), else the
file's own tags read with mutagen: ID3 SYLT (synced) and USLT frames, plus the TXXX:LYRICS frames some
taggers write; Vorbis comments LYRICS / UNSYNCEDLYRICS / ffmpeg's `LYRICS-<lang>` (FLAC, Ogg, Opus), APEv2
Lyrics, ASF WM/Lyrics and MP4 `©lyr`. The first source that holds any lyrics wins: a sidecar is how a user
corrects what a tagger embedded. Embedded text that is itself LRC (lines starting `[mm:ss.xx]`) is synced.

Everything here is pure (no DB, no writes) and never raises for a damaged, empty, unreadable or hostile
file: it returns what could be read, or an empty list. Every string is cleaned (medianest.text).
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3

from medianest.text import clean_optional, clean_text

# The spec: an unknown language "must" be `und` or `xxx`; `xxx` is what taggers write, and Navidrome sends.
UNKNOWN_LANG = "xxx"
# The longest real lyrics (a ten-minute rap verse as LRC, with a translation) are 20-50 KB. 1 MiB is twenty
# times that and parses in milliseconds; anything larger is a mistake or hostile, and would hold a worker and
# its memory on every request. Only this much of a sidecar is read; embedded text is cut to as many chars.
MAX_LRC_BYTES = 1 << 20
# A row may carry many timestamps (`[00:12][01:02]chorus`): without these caps a 1 MiB file of timestamps in
# front of one long value would expand to gigabytes of response.
MAX_LINES = 10_000
MAX_TEXT_CHARS = MAX_LRC_BYTES
DISPLAY_LIMIT = 255  # displayArtist / displayTitle: one name, not a paragraph
LANG_LIMIT = 35  # BCP 47 tags ("zh-Hant-TW") fit; an ISO 639 code is 2-3 letters


@dataclass(frozen=True)
class Line:
    """One lyric line; `start_ms` is None in unsynced lyrics (the spec says `start` must be omitted)."""

    start_ms: int | None
    value: str


@dataclass(frozen=True)
class Lyrics:
    """One `structuredLyrics` entry. `offset_ms` is LRC's `[offset:]`: positive shows lines sooner."""

    lang: str
    synced: bool
    offset_ms: int
    display_artist: str | None
    display_title: str | None
    lines: tuple[Line, ...]


def read_lyrics(path: str | os.PathLike[str]) -> list[Lyrics]:
    """All the lyrics of the song at `path`, from the first source that has any; [] when none can be read."""
    sidecar = _sidecar(Path(path))
    if sidecar is not None:
        return sidecar
    return list(dict.fromkeys(_embedded(Path(path))))  # taggers often write one text under two names


def lyrics_text(items: list[Lyrics]) -> str | None:
    """The plain text of the first lyrics, one line per line (timestamps dropped), as Navidrome's getLyrics."""
    text = "\n".join(line.value for line in items[0].lines).strip() if items else ""
    return text or None


# --- LRC -----------------------------------------------------------------------------------------

# [mm:ss], [mm:ss.x], [mm:ss.xx], [mm:ss.xxx], and [hh:mm:ss.xx] as Navidrome reads it.
_TIME = re.compile(r"\[(?:(\d{1,2}):)?(\d{1,3}):(\d{1,2})(?:\.(\d{1,3}))?\]\s*")
# An ID tag line: `[ar:Artist]`, `[offset:+200]`, `[#:comment]`.
_TAG = re.compile(r"\[([A-Za-z#]+)\s*:(.*)\]")
# Tags an LRC header may hold. In unsynced text only these are tags: "[Chorus: Beyoncé]" is a lyric.
_HEADERS = frozenset({"ar", "al", "ti", "au", "by", "offset", "re", "ve", "length", "la", "lang", "tool", "#"})
_OFFSET = re.compile(r"[+-]?\d{1,9}")  # up to ±11 days: a bigger number is junk, not an offset
# Enhanced LRC's per-word times (<00:12.34>) inside a line: not text. Word timing is songLyrics v2's cueLine.
_WORD_TIME = re.compile(r"<(?:\d{1,2}:)?\d{1,3}:\d{1,2}(?:\.\d{1,3})?>")

Row = tuple[list[int], str]  # a source line's timestamps ([] if none) and its text


def parse_lrc(text: str, lang: str = UNKNOWN_LANG) -> Lyrics | None:
    """LRC or plain text -> Lyrics (synced when any line starts with a timestamp); None without any text.
    `[la:]`/`[lang:]` in the text overrides `lang`: it is written on purpose, a tag's language often is not."""
    rows_in = text.lstrip("\ufeff").splitlines()
    synced = any(_TIME.match(row.strip()) for row in rows_in)
    header: dict[str, str] = {}
    rows: list[Row] = []
    for raw in rows_in:
        _read_row(raw.strip(), synced, header, rows)
    lines = _lines(rows, synced)
    if not any(line.value for line in lines):
        return None
    return Lyrics(lang=_lang(header.get("la") or header.get("lang")) or lang, synced=synced,
                  offset_ms=_offset(header.get("offset")) if synced else 0,
                  display_artist=clean_optional(header.get("ar"), DISPLAY_LIMIT),
                  display_title=clean_optional(header.get("ti"), DISPLAY_LIMIT), lines=lines)


def _read_row(row: str, synced: bool, header: dict[str, str], rows: list[Row]) -> None:
    if not row:
        return  # blank lines separate nothing a client shows (Navidrome drops them too)
    times, rest = _split_times(row)
    tag = None if times else _TAG.fullmatch(row)
    if times:
        rows.append((times, rest))
    elif tag is not None and (synced or tag[1].lower() in _HEADERS):
        header[tag[1].lower()] = tag[2].strip()  # in a synced file any [word:...] line is a tag, known or not
    elif not synced:
        rows.append(([], row))
    elif rows:
        rows[-1] = (rows[-1][0], f"{rows[-1][1]}\n{row}")  # an untimed line continues the one before (Navidrome)


def _split_times(row: str) -> tuple[list[int], str]:
    """The timestamps leading `row`, in ms, and the text after them."""
    times: list[int] = []
    pos = 0
    while (match := _TIME.match(row, pos)) is not None:
        times.append(_ms(match))
        pos = match.end()
    return times, row[pos:]


def _ms(match: re.Match[str]) -> int:
    hours, minutes, seconds, fraction = match.groups()
    whole = (int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)
    return whole * 1000 + int((fraction or "0").ljust(3, "0"))  # ".5" is 500 ms, ".05" 50 ms


def _lines(rows: list[Row], synced: bool) -> tuple[Line, ...]:
    # Each row's text is cleaned once, before a row with many timestamps shares it among its lines.
    values = [clean_text(_WORD_TIME.sub("", text)) for _, text in rows]
    if not synced:
        return _capped((None, value) for value in values)
    # Sorted by time (the spec), stably; repeated rows list their lines wherever they fall.
    starts = sorted((start, index) for index, (times, _) in enumerate(rows) for start in times)
    return _capped((start, values[index]) for start, index in starts)


def _capped(pairs: Iterable[tuple[int | None, str]]) -> tuple[Line, ...]:
    lines: list[Line] = []
    total = 0
    for start, value in pairs:
        total += len(value)
        if len(lines) == MAX_LINES or total > MAX_TEXT_CHARS:
            break
        lines.append(Line(start, value))
    return tuple(lines)


def _offset(value: str | None) -> int:
    return int(value) if value is not None and _OFFSET.fullmatch(value) else 0


def _lang(value: object) -> str | None:
    return clean_optional(str(value).replace("\0", ""), LANG_LIMIT) if value is not None else None


# --- the sidecar ---------------------------------------------------------------------------------

def _sidecar(media: Path) -> list[Lyrics] | None:
    """The sidecar's lyrics; None when there is no readable sidecar or it holds no lyrics."""
    for suffix in (".lrc", ".LRC"):
        data = _read_head(media, suffix)
        lyrics = parse_lrc(_decode(data, len(data) > MAX_LRC_BYTES)) if data is not None else None
        if lyrics is not None:
            return [lyrics]
    return None


# Not on every system (Windows has neither); where missing, the open follows links and may wait on a FIFO.
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NON_BLOCKING = getattr(os, "O_NONBLOCK", 0)


def _read_head(media: Path, suffix: str) -> bytes | None:
    """Up to MAX_LRC_BYTES + 1 bytes of the sidecar (the extra byte says it was cut), or None.

    A sidecar that is a symlink is not followed: it could point anywhere, outside the library, and its
    text would be served as lyrics (a media file that is a link is refused too: streaming/access.py)."""
    try:
        fd = os.open(media.with_suffix(suffix), os.O_RDONLY | _NO_FOLLOW | _NON_BLOCKING)
    except (OSError, ValueError):  # none, unreadable, a link; ValueError: a name with NUL, or no name at all
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory, or a FIFO that would block the read forever
            return None
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(MAX_LRC_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


# UTF-8 (with or without BOM) first; UTF-16 only with its BOM, as nothing else tells it from bytes; then the
# Windows code page most LRC editors wrote, whose 0x80-0x9F are quotes and dashes where Latin-1 has controls;
# Latin-1 decodes anything left.
_ENCODINGS = ("utf-8-sig", "utf-16", "cp1252", "latin-1")


def _decode(data: bytes, cut: bool) -> str:
    """Text of a sidecar; when `cut`, of its first MAX_LRC_BYTES, up to the last whole line."""
    if cut:
        data = data[:MAX_LRC_BYTES]
    for encoding in _ENCODINGS:
        if encoding == "utf-16" and data[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            continue
        try:
            # Incremental: a character the cut split in two is left out, not a reason to try the next codec.
            text = codecs.getincrementaldecoder(encoding)().decode(data, final=not cut)
        except UnicodeDecodeError:
            continue
        text = text.rpartition("\n")[0] if cut else text
        return "" if "\0" in text else text  # NUL is in no text file: this is binary, or UTF-16 without a BOM
    return ""  # not reached: Latin-1 decodes every byte


# --- embedded tags -------------------------------------------------------------------------------

# Lyrics in name-keyed tags (Vorbis, APEv2, ASF, MP4, ID3 TXXX), compared lower-cased. ffmpeg names an ID3
# USLT it copies `lyrics-<lang>` or `lyrics-<description>-<lang>`; TagLib `LYRICS:<description>`.
_LYRICS_KEY = re.compile(r"(?:unsynced ?)?lyrics(?:[-:](.*))?|wm/lyrics|\xa9lyr")
_KEY_LANG = re.compile(r"[a-z]{2,3}")
# SYLT content types that are words (other, lyrics, transcription); not chords, events or URLs.
_SYLT_WORDS = frozenset({0, 1, 2})
_SYLT_MS = 2  # SYLT time stamp format: 2 = milliseconds, 1 = MPEG frames (taggers write milliseconds)


def _embedded(media: Path) -> Iterator[Lyrics]:
    tags = _read_tags(media)
    if isinstance(tags, ID3):
        yield from _id3(tags)
    elif tags is not None and hasattr(tags, "keys"):
        yield from _named(tags)


def _read_tags(media: Path) -> Any:
    try:
        audio = mutagen.File(media)
    except Exception:  # mutagen raises many types for damaged files
        audio = None
    if audio is not None and audio.tags is not None:
        return audio.tags
    try:
        return ID3(media)  # an MP3 whose audio is damaged (mutagen.File gives up) may keep its ID3 tag whole
    except Exception:
        return None


def _id3(tags: ID3) -> Iterator[Lyrics]:
    for frame in tags.getall("SYLT"):
        if frame.format == _SYLT_MS and frame.type in _SYLT_WORDS:
            yield from _optional(_sylt(frame.text, _id3_lang(frame.lang)))
    for frame in tags.getall("USLT"):
        yield from _optional(_text_lyrics(frame.text, _id3_lang(frame.lang)))
    for frame in tags.getall("TXXX"):  # foobar2000 and others: TXXX:LYRICS, TXXX:UNSYNCEDLYRICS
        match = _LYRICS_KEY.fullmatch(frame.desc.lower())
        if match is not None:
            for text in frame.text:
                yield from _optional(_text_lyrics(text, _key_lang(match)))


def _key_lang(match: re.Match[str]) -> str:
    """`eng` from `lyrics-eng` or `lyrics-verse-eng`; a suffix that is no language code says nothing."""
    last = (match[1] or "").rpartition("-")[2]
    return last if _KEY_LANG.fullmatch(last) else UNKNOWN_LANG


def _id3_lang(value: str) -> str:
    # ID3's field is an ISO 639-2 code; taggers also write "XXX", NULs or spaces for none.
    return (_lang(value) or UNKNOWN_LANG).lower()


def _sylt(entries: list[tuple[str, int]], lang: str) -> Lyrics | None:
    """ID3v2 §4.9: an entry may be a syllable, and one starting with a newline starts a line; taggers that
    sync whole lines write one line per entry and no newlines."""
    by_syllable = any(text.startswith(("\n", "\r")) for text, _ in entries[1:])
    rows: list[Row] = []
    for text, start in entries:
        if by_syllable and rows and not text.startswith(("\n", "\r")):
            rows[-1] = (rows[-1][0], rows[-1][1] + text)
        else:
            rows.append(([max(0, int(start))], text))
    lines = _lines([(times, text.replace("\n", " ")) for times, text in rows], synced=True)
    if not any(line.value for line in lines):
        return None
    return Lyrics(lang, synced=True, offset_ms=0, display_artist=None, display_title=None, lines=lines)


def _named(tags: Any) -> Iterator[Lyrics]:
    for key in list(tags.keys()):
        match = _LYRICS_KEY.fullmatch(str(key).lower())
        if match is not None:
            for text in _texts(tags[key]):
                yield from _optional(_text_lyrics(text, _key_lang(match)))


def _texts(value: Any) -> list[str]:
    """A tag's text values: Vorbis and MP4 give a list of str, ASF a list of attributes, APEv2 one value
    whose parts a NUL separates; binary values are skipped."""
    out = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(getattr(item, "value", None), str):
            out.extend(item.value.split("\0"))
    return out


def _text_lyrics(text: str, lang: str) -> Lyrics | None:
    return parse_lrc(text[:MAX_LRC_BYTES], lang)


def _optional(lyrics: Lyrics | None) -> Iterator[Lyrics]:
    if lyrics is not None:
        yield lyrics
