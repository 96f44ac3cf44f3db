"""M3U8 (extended M3U, UTF-8) writing and reading. Pure text: reading never touches the file system."""

from __future__ import annotations

from dataclasses import dataclass

from medianest.errors import InvalidInput
from medianest.text import clean_line

MAX_ENTRIES = 10_000
# Longer than any real line: a path is at most 4096 bytes on Linux, three times that as a file:// URI.
# Bounding lines bounds the work one line can cause (and what an error message quotes).
MAX_LINE_CHARS = 16_384
_FORMAT_BREAKERS = {c: " " for c in (*range(0x20), 0x7F)}  # controls end or spoil a line in a reader


@dataclass(frozen=True)
class Entry:
    location: str
    artist: str | None
    title: str | None
    duration_s: float | None


def write(name: str, entries: list[Entry]) -> str:
    lines = ["#EXTM3U", f"#PLAYLIST:{clean_line(name)}"]
    for e in entries:
        label = " - ".join(part for part in (clean_line(e.artist or ""), clean_line(e.title or "")) if part)
        lines.append(f"#EXTINF:{round(e.duration_s) if e.duration_s else -1},{label}")
        lines.append(_location(e.location))
    return "\n".join(lines) + "\n"


def _location(location: str) -> str:
    """A location as one line, kept as is otherwise ("a  b.mp3" is not "a b.mp3"). A relative path that
    would read as a comment ("#1 hit.mp3") or lose its leading space gets "./" in front."""
    line = location.translate(_FORMAT_BREAKERS)
    return f"./{line}" if line[:1] in ("#", " ") else line


def read(text: str) -> tuple[str | None, list[Entry]]:
    """The playlist name (if given) and its entries, in order. A line longer than `MAX_LINE_CHARS` is
    refused (`InvalidInput` on "body")."""
    name, entries = None, []
    artist = title = None
    duration: float | None = None
    # Only CR/LF end a line: str.splitlines() would also split at U+2028, U+0085 and the like, which are
    # legal in file names.
    for number, raw in enumerate(text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if len(raw) > MAX_LINE_CHARS:
            raise InvalidInput("body", f"line {number} is {len(raw)} characters long; "
                                       f"at most {MAX_LINE_CHARS} are accepted")
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#PLAYLIST:"):
            name = clean_line(line[10:]) or None
        elif line.startswith("#EXTINF:"):
            duration, artist, title = _extinf(line[8:])
        elif not line.startswith("#"):
            entries.append(Entry(line, artist, title, duration))
            artist = title = duration = None
            if len(entries) >= MAX_ENTRIES:
                break
    return name, entries


def _extinf(value: str) -> tuple[float | None, str | None, str | None]:
    seconds, _, label = value.partition(",")
    try:
        duration = float(seconds.split()[0]) if seconds.strip() else None
    except ValueError:
        duration = None
    artist, sep, title = label.partition(" - ")
    if not sep:
        return duration, None, label.strip() or None
    return duration, artist.strip() or None, title.strip() or None
