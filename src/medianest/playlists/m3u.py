"""M3U8 (extended M3U, UTF-8) writing and reading. Pure text: reading never touches the file system."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Entry:
    location: str
    artist: str | None
    title: str | None
    duration_s: float | None


def write(name: str, entries: list[Entry]) -> str:
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(name)}"]
    for e in entries:
        label = " - ".join(_one_line(p) for p in (e.artist, e.title) if p)
        lines.append(f"#EXTINF:{round(e.duration_s) if e.duration_s else -1},{label}")
        lines.append(_no_breaks(e.location))  # a path is kept as is: "a  b.mp3" is not "a b.mp3"
    return "\n".join(lines) + "\n"


def read(text: str) -> tuple[str | None, list[Entry]]:
    """The playlist name (if given) and its entries, in order."""
    name, entries = None, []
    artist = title = None
    duration: float | None = None
    # Only CR/LF end a line: str.splitlines() would also split at U+2028, U+0085 and the like, which are
    # legal in file names.
    for raw in text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#PLAYLIST:"):
            name = line[10:].strip() or None
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


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _no_breaks(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")
