"""Media folders online and offline.

A folder that is missing, cannot be read, or is suddenly empty while the index has items from it (the
mount point of a network share not mounted yet) is offline: a scan keeps its items, the API marks them
unavailable, and streaming them answers 503 with the reason. The last scan's verdict is kept in
`library_folders` (a row per configured folder, and one per offline folder inside one); `FolderStates`
keeps it in memory for a moment, since every media item of every response is checked against it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.errors import Unavailable
from medianest.library.models import FOLDER_OFFLINE, FOLDER_ONLINE, LibraryFolder, Media
from medianest.library.walk import MISSING, folder_reason

log = structlog.get_logger(__name__)

# How long a process trusts its copy of the folder states: another process's scan shows within this.
TTL_S = 2.0
# A configured folder with no media file in it while the library has items from it.
EMPTY = "empty while the library has items from it (a share not mounted yet?)"
# A bucket prefix with no media object while indexed objects of the bucket are under no configured prefix.
EMPTY_PREFIX = "holds no media objects while the library has items under another prefix (a typo?)"
# A folder of indexed items that MEDIANEST_MEDIA_DIRS no longer names, while one that it names is offline.
UNCONFIGURED = ("not in MEDIANEST_MEDIA_DIRS any more; its items are kept while a media folder that is "
                "named there is offline (a typo in the setting?)")


def item_reason(folder_reason: str, is_root: bool) -> str:
    """What a user is told about an item of an offline folder: a sentence without server paths."""
    return f"Its {'media folder' if is_root else 'folder'} is offline: {folder_reason}."


def prefix(path: str) -> str:
    return path.rstrip(os.sep) + os.sep


@dataclass(frozen=True)
class Offline:
    """The offline folders as the last scan left them: (path, why) with whether each is a configured
    media folder. Checking an item is a few `startswith`, never a look at the disk."""

    folders: tuple[tuple[str, str, bool], ...] = ()

    def reason_for(self, path: str) -> str | None:
        """Why the item at `path` is unavailable, or None when its folder is online."""
        for folder, why, is_root in self.folders:
            if path.startswith(prefix(folder)) or path == folder:  # a folder, or a file kept on its own
                return item_reason(why, is_root)
        return None

    def names(self) -> list[tuple[str, str]]:
        """(folder name, why) for places that anyone may read, such as /health: no server paths."""
        return [(os.path.basename(folder.rstrip(os.sep)) or folder, why) for folder, why, _ in self.folders]


class FolderStates:
    """The `library_folders` verdicts of this process, reloaded when older than `TTL_S` or after
    `forget()`: a scan in this process (the queue's thread runs it, on a ScanRunner of its own) drops
    every instance's copy, so the API sees its verdict at once; one in another process within `TTL_S`."""

    _generation = 0  # bumped by forget(), in any instance of this process

    def __init__(self, sessions: SessionFactory, roots: Sequence[Path | str]) -> None:
        self.sessions = sessions
        self.roots = {str(r) for r in roots}
        self._offline: Offline | None = None
        self._loaded_at = 0.0
        self._loaded_generation = -1

    async def offline(self) -> Offline:
        now = time.monotonic()
        generation = FolderStates._generation
        if self._offline is None or generation != self._loaded_generation or now - self._loaded_at > TTL_S:
            async with self.sessions() as session:
                rows = await load_offline(session)
            # Longest first: an item inside an offline folder inside an offline root gets the nearer reason.
            rows.sort(key=lambda row: len(row[0]), reverse=True)
            self._offline = Offline(tuple((path, why, path in self.roots) for path, why in rows))
            self._loaded_at, self._loaded_generation = now, generation
        return self._offline

    def forget(self) -> None:
        FolderStates._generation += 1


async def known_paths(session: AsyncSession) -> list[str]:
    """Every folder the last scan recorded, longest first (the nearest folder of a path comes first)."""
    paths = list(await session.scalars(select(LibraryFolder.path)))
    return sorted(paths, key=len, reverse=True)


async def load_offline(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(select(LibraryFolder.path, LibraryFolder.reason)
                                 .where(LibraryFolder.status == FOLDER_OFFLINE).order_by(LibraryFolder.path))
    return [(path, reason or MISSING) for path, reason in rows]


async def record(session: AsyncSession, roots: Iterable[str], offline: dict[str, str]) -> None:
    """A scan's verdict, in the caller's transaction: every configured folder online or offline, every
    offline folder inside one; rows of other folders (back online, no longer configured) go.
    `offline_since` keeps the first scan that found a folder offline."""
    now = utcnow()
    wanted = {root: offline.get(root) for root in roots} | dict(offline)
    existing = {row.path: row for row in (await session.scalars(select(LibraryFolder))).all()}
    for path, why in wanted.items():
        row = existing.get(path) or LibraryFolder(path=path)
        was_offline = row.status == FOLDER_OFFLINE and row.offline_since is not None
        row.status, row.reason, row.checked_at = (FOLDER_OFFLINE if why else FOLDER_ONLINE), why, now
        row.offline_since = (row.offline_since if was_offline else now) if why else None
        session.add(row)
    gone = [path for path in existing if path not in wanted]
    for i in range(0, len(gone), 500):
        await session.execute(delete(LibraryFolder).where(LibraryFolder.path.in_(gone[i:i + 500])))


def root_problem_now(root: Path) -> str | None:
    """A live look at a configured folder: why it is offline now (missing, not a folder, unreadable,
    empty), or None. Only asked when an item's file is missing, so a stream can say why instead of 404;
    a folder with nothing in it then holds none of the items the library has from it."""
    try:
        with os.scandir(root) as entries:
            if next(entries, None) is None:
                return EMPTY
    except OSError as exc:
        return folder_reason(exc, link=os.path.islink(root)) if os.path.lexists(root) else MISSING
    return None


def root_of(path: str, roots: Iterable[Path]) -> Path | None:
    for root in roots:
        if path.startswith(prefix(str(root))):
            return root
    return None


def raise_if_root_offline(media: Media, roots: Iterable[Path]) -> None:
    """For an item whose file is not there: `Unavailable` when its media folder is offline right now."""
    root = root_of(media.path, roots)
    why = root_problem_now(root) if root is not None else None
    if why is not None:
        raise Unavailable("media", media.id, item_reason(why, is_root=True))


async def raise_if_offline(sessions: SessionFactory, media: Media, roots: list[Path]) -> None:
    """`raise_if_root_offline`, or `Unavailable` when the last scan found the folder inside a media
    folder that holds the item offline (unreadable). A media folder itself is judged by the live look
    alone: when it is back, a file missing from it is really gone."""
    raise_if_root_offline(media, roots)
    configured = {str(r) for r in roots}
    async with sessions() as session:
        rows = [(path, why, False) for path, why in await load_offline(session) if path not in configured]
    rows.sort(key=lambda row: len(row[0]), reverse=True)
    why = Offline(tuple(rows)).reason_for(media.path)
    if why is not None:
        raise Unavailable("media", media.id, why)


def warn_offline_roots(roots: Iterable[Path]) -> list[tuple[Path, str]]:
    """Log a warning for each configured media folder that is missing or unreadable now (a typo in
    MEDIANEST_MEDIA_DIRS, a share not mounted); returns them for a console to show too."""
    problems = []
    for root in roots:
        why = root_problem_now(root)
        if why is not None and why != EMPTY:  # an empty folder is fine on a new installation
            log.warning("media folder offline: its items are kept, unavailable until it is back",
                        path=str(root), reason=why)
            problems.append((root, why))
    return problems
