"""The library scan: walk the folders, compare with the DB, probe what is new or changed, write in batches.

Unchanged files cost one stat each and no DB work, so a no-change rescan is about as fast as a walk.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.library import artwork
from medianest.library.models import Media, UnreadableFile
from medianest.library.probe import ProbeResult, Unreadable, probe
from medianest.library.walk import FileStat, WalkResult, inside, walk

# Files probed per thread hop and rows written per statement: big enough to amortise the hop and
# the round trip, small enough that progress moves and a crash loses little.
BATCH = 64


@dataclass
class ScanStats:
    total: int = 0
    processed: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    failed: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


ProgressFn = Callable[[ScanStats], Awaitable[None]]


@dataclass
class _Plan:
    new: list[FileStat]
    changed: list[tuple[int, FileStat]]
    removed_ids: list[int]
    still_bad: int
    gone_bad: list[str]


class Scanner:
    def __init__(self, sessions: SessionFactory, roots: Sequence[Path], artwork_dir: Path) -> None:
        self.sessions = sessions
        self.roots = [Path(r) for r in roots]
        self.artwork_dir = artwork_dir

    async def run(self, on_progress: ProgressFn | None = None) -> ScanStats:
        found = await asyncio.to_thread(walk, self.roots)
        async with self.sessions() as session:
            plan = await self._plan(session, found)
            stats = ScanStats(total=len(found.files) + len(found.failures))
            stats.unchanged = len(found.files) - len(plan.new) - len(plan.changed) - plan.still_bad
            stats.failed = len(found.failures) + plan.still_bad
            stats.processed = stats.unchanged + stats.failed
            await self._record_failures(session, found.failures)
            await self._remove(session, plan, stats)
            await session.commit()
        await self._probe_and_write(plan, stats, on_progress)
        return stats

    async def _plan(self, session: AsyncSession, found: WalkResult) -> _Plan:
        known = {p: (i, s, m) for i, p, s, m in await session.execute(
            select(Media.id, Media.path, Media.size, Media.mtime))}
        bad = {p: (s, m) for p, s, m in await session.execute(
            select(UnreadableFile.path, UnreadableFile.size, UnreadableFile.mtime))}
        new: list[FileStat] = []
        changed: list[tuple[int, FileStat]] = []
        still_bad = 0
        for f in found.files:
            row = known.get(f.path)
            if row is not None:
                if row[1] != f.size or row[2] != f.mtime:
                    changed.append((row[0], f))
            elif bad.get(f.path) == (f.size, f.mtime):
                still_bad += 1
            else:
                new.append(f)
        seen = {f.path for f in found.files}
        removed = [i for p, (i, _, _) in known.items() if p not in seen and self._gone(p, found)]
        failed_now = {p for p, _ in found.failures}
        gone_bad = [p for p in bad if p not in seen and p not in failed_now]
        return _Plan(new, changed, removed, still_bad, gone_bad)

    def _gone(self, path: str, found: WalkResult) -> bool:
        """A missing file is removed if its folder was walked, or it is under no configured folder."""
        roots = [str(r) for r in self.roots]
        return inside(path, found.walked_roots) or not inside(path, roots)

    async def _remove(self, session: AsyncSession, plan: _Plan, stats: ScanStats) -> None:
        for chunk in _chunks(plan.removed_ids, 500):
            await session.execute(delete(Media).where(Media.id.in_(chunk)))
        for chunk in _chunks(plan.gone_bad, 500):
            await session.execute(delete(UnreadableFile).where(UnreadableFile.path.in_(chunk)))
        stats.removed = len(plan.removed_ids)

    async def _probe_and_write(self, plan: _Plan, stats: ScanStats, on_progress: ProgressFn | None) -> None:
        work: list[tuple[int | None, FileStat]] = [(None, f) for f in plan.new] + list(plan.changed)
        if on_progress:
            await on_progress(stats)
        for chunk in _chunks(work, BATCH):
            probed = await asyncio.to_thread(self._probe_batch, chunk)
            async with self.sessions() as session:
                await self._write(session, probed, stats)
                await session.commit()
            if on_progress:
                await on_progress(stats)

    def _probe_batch(self, chunk: list[tuple[int | None, FileStat]]) -> list[tuple[int | None, FileStat, Any]]:
        out: list[tuple[int | None, FileStat, Any]] = []
        for media_id, f in chunk:
            try:
                result: Any = probe(Path(f.path), f.size)
                if result.artwork:
                    result.artwork_name = artwork.store(self.artwork_dir, result.artwork)
            except Unreadable as exc:
                result = exc.reason
            except OSError as exc:
                result = "permission denied" if isinstance(exc, PermissionError) else f"cannot read: {exc}"
            out.append((media_id, f, result))
        return out

    async def _write(self, session: AsyncSession, probed: list[tuple[int | None, FileStat, Any]],
                     stats: ScanStats) -> None:
        inserts, updates, failures, broken = [], [], [], []
        for media_id, f, result in probed:
            if isinstance(result, str):
                failures.append((f.path, result, f.size, f.mtime))
                if media_id is not None:
                    broken.append(media_id)  # it was fine before and is damaged now
            elif media_id is None:
                inserts.append(_row(f, result))
            else:
                updates.append({"id": media_id, **_row(f, result)})
        if inserts:
            await session.execute(_upsert(session, inserts))
        if updates:
            await session.execute(update(Media), updates)
        if broken:
            await session.execute(delete(Media).where(Media.id.in_(broken)))
        await _store_failures(session, failures)
        stats.added += len(inserts)
        stats.updated += len(updates)
        stats.failed += len(failures)
        stats.processed += len(probed)

    async def _record_failures(self, session: AsyncSession, failures: list[tuple[str, str]]) -> None:
        await _store_failures(session, [(p, reason, None, None) for p, reason in failures])


def _row(f: FileStat, r: ProbeResult) -> dict[str, Any]:
    now = utcnow()
    return {
        "kind": r.kind, "title": r.title, "artist": r.artist, "album": r.album, "album_artist": r.album_artist,
        "track": r.track, "disc": r.disc, "year": r.year, "genre": r.genre, "duration_s": r.duration_s,
        "container": r.container, "audio_codec": r.audio_codec, "video_codec": r.video_codec,
        "bitrate": r.bitrate, "width": r.width, "height": r.height, "mime": r.mime, "path": f.path,
        "size": f.size, "mtime": f.mtime, "artwork": getattr(r, "artwork_name", None),
        "search_text": r.search_text(), "added_at": now, "updated_at": now,
    }


def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> Any:
    """INSERT, or UPDATE when another scan (say the CLI's, while the server runs) added the path first."""
    dialect = session.bind.dialect.name
    stmt = (sqlite_insert if dialect == "sqlite" else pg_insert)(Media).values(rows)
    fields = {k: stmt.excluded[k] for k in rows[0] if k not in ("path", "added_at")}
    return stmt.on_conflict_do_update(index_elements=["path"], set_=fields)


async def _store_failures(session: AsyncSession, rows: list[tuple[str, str, int | None, float | None]]) -> None:
    for chunk in _chunks(rows, 500):
        paths = [r[0] for r in chunk]
        await session.execute(delete(UnreadableFile).where(UnreadableFile.path.in_(paths)))
        await session.execute(insert(UnreadableFile), [
            {"path": p, "reason": reason[:1000], "size": size, "mtime": mtime, "seen_at": utcnow()}
            for p, reason, size, mtime in chunk
        ])


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class Throttle:
    """Lets a call through at most once per `interval_s`; the last state is always sent by the caller."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            return True
        return False
