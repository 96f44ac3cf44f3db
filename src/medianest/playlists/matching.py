"""Which library item an imported M3U8 entry names, and how an exported entry names its item.

An entry matches, in order: its exact path; its path under each media folder (what the export writes);
its path's tail ("Artist/Album/01.mp3" from another machine's layout); then its #EXTINF title and artist,
ignoring case and accents. Every comparison is an equality, in an indexed SQL lookup or in Python over
rows read in pages: no LIKE or GLOB pattern is ever built from a playlist's text (SQLite refuses patterns
over 50,000 bytes, and "%" or "_" in a file name must not mean anything).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.library.models import Media
from medianest.library.probe import fold
from medianest.playlists.m3u import Entry

LOOKUP_CHUNK = 500  # paths per `IN (...)` lookup: well under SQLite's bound-parameter limit
SCAN_PAGE = 5_000  # media rows per read when tails or tags are compared in Python; each read is short
_LEADING = re.compile(r"^([A-Za-z]:)?(\.{1,2}/|/)*")  # "./", "../", "/" and a Windows drive
_URI_DRIVE = re.compile(r"^/[A-Za-z]:/")  # file:///C:/Music/... gives "/C:/Music/..."


@dataclass(frozen=True)
class Candidate:
    id: int
    path: str
    title: str
    artist: str | None


@dataclass
class _Wanted:
    """What one entry is looked up by, and what it matched."""

    entry: Entry
    paths: list[str]  # full paths to look up exactly, the most likely first
    tail: str | None = None  # "/Artist/Album/01.mp3" for a relative entry
    found: int | None = None


def portable_path(path: str, roots: Sequence[Path]) -> str:
    """`path` relative to its media folder ("/"-separated; the outermost folder when folders nest), or
    the file name alone for a file outside every folder: never the server's own folder layout."""
    for root in sorted((str(r) for r in roots), key=len):
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix):].replace(os.sep, "/")
    return os.path.basename(path)


async def match(session: AsyncSession, entries: Sequence[Entry], roots: Sequence[Path]) -> list[int | None]:
    """The media id each entry names (None when nothing matches), in the entries' order. Read-only."""
    wanted = [_wanted(e, roots) for e in entries]
    await _by_path(session, wanted)
    await _by_scan(session, [w for w in wanted if w.found is None])
    return [w.found for w in wanted]


def _wanted(entry: Entry, roots: Sequence[Path]) -> _Wanted:
    location = _local_path(entry.location)
    if location is None:
        return _Wanted(entry, [])
    if location.startswith("/") and not _URI_DRIVE.match(location):
        return _Wanted(entry, [os.path.normpath(location)])
    # A relative entry ("Artist/Album/01 Song.mp3", "C:\Music\Artist\...") without its "./", "../" or drive.
    relative = _LEADING.sub("", location.lstrip("/").replace("\\", "/"))
    if not relative:
        return _Wanted(entry, [])
    return _Wanted(entry, [os.path.normpath(os.path.join(root, relative)) for root in roots], "/" + relative)


def _local_path(location: str) -> str | None:
    """The file path an entry names: as written, or from a file:// URI; None for other URLs (streams)."""
    if location.lower().startswith("file://"):
        return unquote(urlsplit(location).path) or None
    return None if "://" in location else location


async def _by_path(session: AsyncSession, wanted: list[_Wanted]) -> None:
    """Exact paths, looked up through the unique index on media.path."""
    paths = list(dict.fromkeys(p for w in wanted for p in w.paths))
    rows: dict[str, Candidate] = {}
    for start in range(0, len(paths), LOOKUP_CHUNK):
        stmt = _candidates().where(Media.path.in_(paths[start:start + LOOKUP_CHUNK]))
        rows.update((c.path, c) for c in map(_candidate, await session.execute(stmt)))
    for w in wanted:
        w.found = _pick([rows[p] for p in w.paths if p in rows], w.entry)


async def _by_scan(session: AsyncSession, wanted: list[_Wanted]) -> None:
    """Tails and tags, compared in Python over one pass through the library (only when some are needed)."""
    by_name = {posixpath.basename(w.tail) for w in wanted if w.tail}
    by_title = {fold(w.entry.title) for w in wanted if w.entry.title}
    if not by_name and not by_title:
        return
    named: dict[str, list[Candidate]] = defaultdict(list)
    titled: dict[str, list[Candidate]] = defaultdict(list)
    async for c in _library(session):
        name = c.path.rsplit(os.sep, 1)[-1]
        if name in by_name:
            named[name].append(c)
        if by_title and (title := fold(c.title)) in by_title:
            titled[title].append(c)
    for w in wanted:
        if w.tail:
            ending = [c for c in named.get(posixpath.basename(w.tail), []) if _ends_with(c.path, w.tail)]
            w.found = _pick(ending, w.entry)
        if w.found is None and w.entry.title:
            w.found = next((c.id for c in titled.get(fold(w.entry.title), []) if _same_tags(c, w.entry)), None)


async def _library(session: AsyncSession) -> AsyncIterator[Candidate]:
    """Every live media item, in id order, read a page at a time."""
    last = 0
    while True:
        page = [_candidate(r) for r in await session.execute(
            _candidates().where(Media.id > last).order_by(Media.id).limit(SCAN_PAGE))]
        await session.commit()  # ends the read between pages: a page, not the pass, is what holds the database
        for c in page:
            yield c
        if len(page) < SCAN_PAGE:
            return
        last = page[-1].id


def _candidates() -> Select[int, str, str, str | None]:
    return select(Media.id, Media.path, Media.title, Media.artist).where(Media.deleted_at.is_(None))


def _candidate(row: Row[int, str, str, str | None]) -> Candidate:
    return Candidate(row.id, row.path, row.title, row.artist)


def _ends_with(path: str, tail: str) -> bool:
    return path.replace(os.sep, "/").endswith(tail)


def _pick(candidates: list[Candidate], entry: Entry) -> int | None:
    """The first candidate, preferring one whose tags agree with the entry's #EXTINF (two media folders
    can hold the same relative path)."""
    if len(candidates) > 1 and entry.title:
        candidates = [c for c in candidates if _same_tags(c, entry)] or candidates
    return candidates[0].id if candidates else None


def _same_tags(c: Candidate, entry: Entry) -> bool:
    """The same title and, when the entry names one, the same artist, ignoring case and accents."""
    return fold(c.title) == fold(entry.title or "") and (
        entry.artist is None or fold(c.artist or "") == fold(entry.artist))
