"""The library scan: walk the folders, compare with the DB, probe what is new or changed, write in batches.

Unchanged files cost one stat each and one row of the index read back, and no writes: a no-change
rescan takes about twice a bare os.scandir walk of the same folders (bench/scan_bench.py measures it).

Nothing is removed from an offline folder (library/folders.py): a media folder missing, unreadable or
suddenly empty while the index has items from it, or a folder inside one that cannot be listed. Its
items keep their ids, playlists, likes, plays and resume points, and are the same items when it is back.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

import structlog
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.db.queries import refresh_statistics
from medianest.errors import Unavailable
from medianest.library import artwork, catalog, folders
from medianest.library.buckets import BucketFolders, merge, walk_bucket
from medianest.library.models import KIND_VIDEO, Media, UnreadableFile
from medianest.library.probe import ProbeResult, Unreadable, probe
from medianest.library.walk import FileStat, Listing, WalkResult, inside, walk
from medianest.storage.objects import ObjectChanged, is_object, scratch_copy

log = structlog.get_logger(__name__)

# Files probed per thread hop and rows written per statement: big enough to amortise the hop and
# the round trip, small enough that progress moves and a crash loses little. (500 with a time limit
# was measured too: no faster, the hops are not where the time goes.)
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
    # The folders found offline, with why (their items were kept): {path: reason}.
    offline: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        """The counts."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "offline"}


ProgressFn = Callable[[ScanStats], Awaitable[None]]
# A file to probe, with its id when it is indexed already; and the same with its ProbeResult, or the
# reason it cannot be read.
Work = tuple[int | None, FileStat]
Probed = tuple[int | None, FileStat, Any]


class Transient(str):
    """Why a file could not be read that says nothing about the file (its bucket could not be reached)."""


@dataclass
class _Plan:
    new: list[FileStat]
    changed: list[Work]
    removed: list[str]
    still_bad: int
    gone_bad: list[str]
    # Paths the index lists as unreadable: one of them read fine now has its stale reason dropped.
    bad: set[str]
    # Folders offline (their indexed files are kept), with why.
    offline: dict[str, str]


# What else is indexed for each new or changed video, in the scan's transaction (the composition root
# passes the subtitles' sidecar-and-stream indexer: subtitles/ sits above the library, so it is handed in).
PerVideo = Callable[[AsyncSession, Media], Awaitable[object]]


class Scanner:
    def __init__(self, sessions: SessionFactory, roots: Sequence[Path], artwork_dir: Path,
                 per_video: PerVideo | None = None, bucket: BucketFolders | None = None) -> None:
        self.sessions = sessions
        self.roots = [Path(r) for r in roots]
        self.bucket = bucket
        # Every library folder by name: the local ones, then the bucket's (`s3://bucket/prefix`).
        self.root_names = [str(r) for r in self.roots] + (bucket.roots if bucket else [])
        self.artwork = artwork.Artwork(artwork_dir, bucket.bucket if bucket else None)
        self.per_video = per_video
        self._analyzed = False  # planner statistics refreshed by this process

    async def run(self, on_progress: ProgressFn | None = None) -> ScanStats:
        found = await asyncio.to_thread(self._walk)
        async with self.sessions() as session:
            # Walking while reading the index was tried: both threads want the GIL most of the time
            # and the overlap was no faster (measured by bench/scan_bench.py), so they take turns.
            plan = await self._plan(session, found, await _load_index(session, etags=self.bucket is not None))
            stats = ScanStats(total=len(found.files) + len(found.failures))
            stats.unchanged = len(found.files) - len(plan.new) - len(plan.changed) - plan.still_bad
            stats.failed = len(found.failures) + plan.still_bad
            stats.processed = stats.unchanged + stats.failed
            stats.offline = plan.offline
            await self._record_failures(session, found.failures)
            await self._remove(session, plan, stats)
            await folders.record(session, self.root_names, plan.offline)
            await session.commit()
        await self._probe_and_write(plan, stats, on_progress)
        changed = bool(stats.added or stats.updated or stats.removed)
        if changed or not await self._catalog_built():
            async with self.sessions() as session:
                await catalog.refresh(session)  # all of it: cheaper than tracking each album a scan touched
                await session.commit()
        if changed or not self._analyzed:  # once per process too: a library indexed before this was kept
            async with self.sessions() as session:  # apart: the catalog's write lock is not held meanwhile
                await refresh_statistics(session)
                await session.commit()
            self._analyzed = True
        return stats

    def _walk(self) -> WalkResult:
        found = walk(self.roots)
        return merge(found, walk_bucket(self.bucket)) if self.bucket else found

    async def _catalog_built(self) -> bool:
        async with self.sessions() as session:
            return await catalog.built(session)

    async def ingest(self, path: Path, extra: dict[str, Any] | None = None, stored: FileStat | None = None) -> int:
        """Index one file now (a finished download) with the scan's own probe and write; its media id.
        `extra` sets further columns (a download's source); `stored` is where the file is kept when that
        is not `path` (an object the file was uploaded to: the local copy is read, the object indexed).
        Raises `Unreadable` for a file it cannot read."""
        st = path.stat()
        local = FileStat(str(path), st.st_size, st.st_mtime)
        result = await asyncio.to_thread(self._probe_one, local)
        f = stored or local
        if isinstance(result, str):
            raise Unreadable(result)
        row = _row(f, result)
        async with self.sessions() as session:
            before = await session.scalar(select(Media.album_key).where(Media.path == f.path))
            await _upsert(session, [row])
            media_id = (await _ids_of(session, [f.path]))[f.path]
            if extra:
                await session.execute(update(Media).where(Media.id == media_id).values(**extra))
            await catalog.refresh(session, [before, row["album_key"]])
            await session.commit()
            await self._per_video(session, [f.path] if _is_video(result) else [])
        return media_id

    async def _plan(self, session: AsyncSession, found: WalkResult, known: Listing) -> _Plan:
        bad = await _load_unreadable(session)
        files = found.files
        failed_now = {p for p, _ in found.failures}
        # Files that failed again in the walk say nothing about what changed among the others.
        expected_bad = {p: st for p, st in bad.items() if p not in failed_now}
        if _nothing_changed(files, known, expected_bad):
            # Nothing indexed is missing, so no empty folder or dead link held indexed files.
            return _Plan([], [], [], len(expected_bad), [], set(bad), dict(found.offline))
        missing = known.sizes.keys() - files.sizes.keys()
        offline = _offline(found, missing) | self._empty_prefixes(found, missing)
        orphans = self._unconfigured_while_offline(missing, offline)
        if orphans:
            offline |= _unconfigured(orphans, await folders.known_paths(session), self.root_names)
        kept = list(offline)
        differ = _differ(files, known, missing)
        still_bad = {p for p in differ if p not in known and bad.get(p) == files.stat(p)}
        todo = differ - still_bad
        ordered = [p for p in files if p in todo] if todo else []  # probe in walk order, as listed
        ids = await _ids_of(session, [p for p in ordered if p in known])
        new = [files.file(p) for p in ordered if p not in known]
        changed = [(ids.get(p), files.file(p)) for p in ordered if p in known]
        # A file listed but not statted (an I/O error on a share) is there, just unreadable for now.
        removed = [p for p in missing if p not in failed_now and self._gone(p, found, kept)]
        gone_bad = [p for p in bad if p not in files and p not in failed_now and not inside(p, kept)]
        return _Plan(new, changed, removed, len(still_bad), gone_bad, set(bad), offline)

    def _empty_prefixes(self, found: WalkResult, missing: set[str]) -> dict[str, str]:
        """The bucket's configured prefixes that hold no media object, when indexed objects of the bucket
        are under no configured prefix: as a local folder that is missing, a prefix renamed or mistyped
        in the setting keeps the items of the one it replaced (unavailable), instead of removing them."""
        if self.bucket is None:
            return {}
        if not any(is_object(p) and not inside(p, self.root_names) for p in missing):
            return {}
        return {root: folders.EMPTY_PREFIX for root in self.bucket.roots
                if root in found.walked_roots and not _any_under(found.files.sizes.keys(), root)}

    def _unconfigured_while_offline(self, missing: set[str], offline: dict[str, str]) -> list[str]:
        """Indexed files under no configured folder, when a configured folder is offline: the setting
        may have a typo in place of their folder, so they are kept (unavailable) until every configured
        folder is online; then they go as a folder taken out of the setting."""
        roots = self.root_names
        if not any(root in offline for root in roots):
            return []
        return [p for p in missing if not inside(p, roots) and not inside(p, list(offline))]

    def _gone(self, path: str, found: WalkResult, offline: list[str]) -> bool:
        """A missing file is removed if its folder was walked and is not offline, or it is under no
        configured folder (one taken out of the configuration)."""
        if inside(path, offline):
            return False
        return inside(path, found.walked_roots) or not inside(path, self.root_names)

    async def _remove(self, session: AsyncSession, plan: _Plan, stats: ScanStats) -> None:
        for chunk in _chunks(plan.removed, 500):
            await session.execute(delete(Media).where(Media.path.in_(chunk)))
        for chunk in _chunks(plan.gone_bad, 500):
            await session.execute(delete(UnreadableFile).where(UnreadableFile.path.in_(chunk)))
        stats.removed = len(plan.removed)

    async def _probe_and_write(self, plan: _Plan, stats: ScanStats, on_progress: ProgressFn | None) -> None:
        work: list[Work] = [(None, f) for f in plan.new] + list(plan.changed)
        if on_progress:
            await on_progress(stats)
        # Probing the next batch while writing this one was measured (bench/scan_bench.py): no faster,
        # as both halves hold the GIL most of the time; so they take turns.
        for chunk in _chunks(work, BATCH):
            probed = await asyncio.to_thread(self._probe_batch, chunk)
            await self._write_batch(probed, stats, plan.bad)
            if on_progress:
                await on_progress(stats)

    async def _write_batch(self, probed: list[Probed], stats: ScanStats, bad: set[str]) -> None:
        async with self.sessions() as session:
            await self._write(session, probed, stats, bad)
            await session.commit()
            await self._per_video(session, [f.path for _, f, r in probed if _is_video(r)])

    async def _per_video(self, session: AsyncSession, paths: list[str]) -> None:
        """`per_video` (the subtitles' indexer) for the new or changed videos at `paths`."""
        if not paths or self.per_video is None:
            return
        for media in (await session.scalars(select(Media).where(Media.path.in_(paths)))).all():
            await self.per_video(session, media)

    def _probe_batch(self, chunk: Sequence[Work]) -> list[Probed]:
        return [(media_id, f, self._probe_one(f)) for media_id, f in chunk]

    def _probe_one(self, f: FileStat) -> ProbeResult | str:
        """The file's facts, or why it cannot be read."""
        try:
            result = self._probe_object(f) if is_object(f.path) else probe(Path(f.path), f.size)
            if result.artwork:
                result.artwork_name = self.artwork.store(result.artwork)
            return result
        except Unreadable as exc:
            return exc.reason
        except ObjectChanged:
            return Transient("changed while being read: it is read again at the next scan")
        except Unavailable as exc:
            return Transient(exc.message)
        except OSError as exc:
            if is_object(f.path):  # the scratch copy's disk (full?), not the object: tried again next scan
                return Transient(f"could not be copied here to be read: {exc.strerror or exc}")
            return "permission denied" if isinstance(exc, PermissionError) else f"cannot read: {exc}"
        except Exception as exc:  # a reader's bug on one strange file must not fail the whole scan
            log.exception("probe failed", path=f.path)
            return f"cannot read: {type(exc).__name__}"

    def _probe_object(self, f: FileStat) -> ProbeResult:
        """An object's facts, read from a scratch copy of exactly the listed version (S3 readers of tags
        and cover art want a seekable file; only new and changed objects are fetched)."""
        key = self.bucket.bucket.key_of(f.path) if self.bucket else None
        if self.bucket is None or key is None:
            raise Unreadable("in a bucket that is not configured (MEDIANEST_S3_BUCKET)")
        with scratch_copy(self.bucket.bucket, key, self.bucket.scratch, f.etag) as local:
            return probe(local, f.size)

    async def _write(self, session: AsyncSession, probed: list[Probed],
                     stats: ScanStats, bad: set[str]) -> None:
        inserts, updates = [], []
        failures: list[tuple[str, str, int | None, float | None]] = []
        for media_id, f, result in probed:
            if isinstance(result, str):
                # An indexed item whose file now fails to read keeps its row (and its playlists, likes
                # and plays): the reader may be at fault, or the share mid-hiccup. Its row keeps the old
                # size and mtime, so the next scan tries it again; the failure is listed meanwhile.
                # A transient reason (the bucket was down) is recorded without the size and time, so the
                # next scan tries again even if the object has not changed.
                stat = (None, None) if isinstance(result, Transient) else (f.size, f.mtime)
                failures.append((f.path, result, *stat))
            elif media_id is None:
                inserts.append(_row(f, result))
            else:
                row = _row(f, result)
                del row["added_at"]  # a re-tagged file is not a newly added one
                updates.append({"id": media_id, **row})
        if inserts:
            await _upsert(session, inserts)
        if updates:
            await session.execute(update(Media), updates)
        await _store_failures(session, failures)
        fixed = [f.path for _, f, result in probed if f.path in bad and not isinstance(result, str)]
        await _forget_fixed(session, fixed)
        stats.added += len(inserts)
        stats.updated += len(updates)
        stats.failed += len(failures)
        stats.processed += len(probed)

    async def _record_failures(self, session: AsyncSession, failures: list[tuple[str, str]]) -> None:
        await _store_failures(session, [(p, reason, None, None) for p, reason in failures])


def _offline(found: WalkResult, missing: set[str]) -> dict[str, str]:
    """The folders whose indexed files must be kept: those that could not be listed, dead symlinks that
    were folders of indexed files, and the roots with no media file at all while files indexed from
    them are missing (a share not mounted: its mount point is empty). As Navidrome learnt, "no media
    file" is the test, not "no entry": a mount point may hold a stray folder or file of its own.
    Files are counted by path, so a root inside another root is judged by its own files. (A root
    whose files were all moved to new paths is not offline: that is how a folder gets renamed.)"""
    offline = dict(found.offline)
    offline.update((link, why) for link, why in found.dead_links.items() if _under(missing, [link]))
    for root in found.walked_roots:
        lost = _under(missing, [root])
        inside_offline = [f for f in offline if f.startswith(folders.prefix(root))]
        if not any(not inside(p, inside_offline) for p in lost):
            continue
        if not _any_under(found.files.sizes.keys(), root):
            offline[root] = folders.EMPTY
    return offline


def _unconfigured(orphans: list[str], known_folders: list[str], roots: list[str]) -> dict[str, str]:
    """The places to keep offline for `orphans`: the nearest folder an earlier scan recorded, else the
    folder all the others share, else each file's own folder, or the file itself. Never a folder that
    holds a configured one: its items, online, would be marked unavailable too."""
    def holds_no_root(folder: str) -> bool:
        return not any(inside(root, [folder]) for root in roots)

    kept: dict[str, str] = {}
    unknown = []
    for path in orphans:
        folder = next((f for f in known_folders if path.startswith(folders.prefix(f)) and holds_no_root(f)), None)
        if folder is None:
            unknown.append(path)
        else:
            kept[folder] = folders.UNCONFIGURED
    kept.update((p, folders.UNCONFIGURED) for p in unknown if is_object(p))  # commonpath would fold "s3://"
    unknown = [p for p in unknown if not is_object(p)]
    if not unknown:
        return kept
    shared = os.path.commonpath([os.path.dirname(p) for p in unknown])
    if holds_no_root(shared):
        return kept | {shared: folders.UNCONFIGURED}
    for path in unknown:
        parent = os.path.dirname(path)
        kept[parent if holds_no_root(parent) else path] = folders.UNCONFIGURED
    return kept


def _any_under(paths: Iterable[str], folder: str) -> bool:
    start = folders.prefix(folder)
    return any(p.startswith(start) for p in paths)


def _under(paths: Iterable[str], dirs: list[str]) -> list[str]:
    starts = tuple(folders.prefix(d) for d in dirs)
    return [p for p in paths if p.startswith(starts)]


def _is_video(result: Any) -> bool:
    return not isinstance(result, str) and result.kind == KIND_VIDEO


def _nothing_changed(files: Listing, known: Listing, bad: dict[str, tuple[int | None, float | None]]) -> bool:
    """The usual rescan: nothing new, changed, removed or repaired, decided by dict comparisons in C
    instead of sets of every path. Files still unreadable are expected unchanged too."""
    if bad:
        if not bad.keys().isdisjoint(known.sizes.keys()):  # a view: iterates the shorter side
            return False  # an old record of a file both indexed and unreadable: take the long way
        sizes: dict[str, Any] = known.sizes | {p: s for p, (s, _) in bad.items()}
        mtimes: dict[str, Any] = known.mtimes | {p: m for p, (_, m) in bad.items()}
        known = Listing(sizes, mtimes, known.etags)
    return files.same_as(known)


def _differ(files: Listing, known: Listing, missing: set[str]) -> set[str]:
    """Paths that are new, or whose size or mtime differ from the index; the shared paths are
    compared in C first, and one by one only when something among them changed."""
    added = files.sizes.keys() - known.sizes.keys()
    on_disk, indexed = files.without(added), known.without(missing)
    if on_disk.same_as(indexed):
        return added
    return added | {p for p in on_disk
                    if on_disk.stat(p) != indexed.stat(p) or on_disk.etags.get(p) != indexed.etags.get(p)}


async def _load_index(session: AsyncSession, etags: bool = False) -> Listing:
    """Every indexed file's size and mtime, by path.

    Core rows, not ORM ones, and dicts built by zip in C: at 100k items this load is a large part
    of a no-change rescan. Ids are left out (a fifth of the cost); `_ids_of` fetches the few needed.
    """
    table = Media.__table__.c
    conn = await session.connection()
    # Only objects have an ETag: with no bucket configured, the column is not read at all.
    columns = [table.path, table.size, table.mtime, *([table.etag] if etags else [])]
    rows = (await conn.execute(select(*columns))).all()
    if not rows:
        return Listing()
    paths, sizes, mtimes, *tags = zip(*rows, strict=True)
    known = {p: e for p, e in zip(paths, tags[0], strict=True) if e is not None} if tags else {}
    return Listing(dict(zip(paths, sizes, strict=True)), dict(zip(paths, mtimes, strict=True)), known)


async def _load_unreadable(session: AsyncSession) -> dict[str, tuple[int | None, float | None]]:
    table = UnreadableFile.__table__.c  # Core, as in _load_index: this runs on every rescan
    conn = await session.connection()
    return {p: (s, m) for p, s, m in await conn.execute(select(table.path, table.size, table.mtime))}


async def _ids_of(session: AsyncSession, paths: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(paths, 500):
        rows = await session.execute(select(Media.path, Media.id).where(Media.path.in_(chunk)))
        ids.update((p, i) for p, i in rows)
    return ids


def _row(f: FileStat, r: ProbeResult) -> dict[str, Any]:
    now = utcnow()
    return {
        "kind": r.kind, "title": r.title, "artist": r.artist, "album": r.album, "album_artist": r.album_artist,
        "track": r.track, "disc": r.disc, "year": r.year, "genre": r.genre, "compilation": r.compilation,
        **catalog.keys_of(r.kind, r.artist, r.album, r.album_artist, r.compilation), "duration_s": r.duration_s,
        "container": r.container, "audio_codec": r.audio_codec, "video_codec": r.video_codec,
        "bitrate": r.bitrate, "width": r.width, "height": r.height, "mime": r.mime, "description": r.description,
        "path": f.path,
        "size": f.size, "mtime": f.mtime, "etag": f.etag, "artwork": getattr(r, "artwork_name", None),
        "search_text": r.search_text(), "added_at": now, "updated_at": now,
    }


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """INSERT, or UPDATE when another scan (say the CLI's, while the server runs) added the path first.

    One statement run with many parameter sets (executemany) on the Core table: SQLAlchemy compiles it
    once and caches it. A multi-row VALUES clause, or the ORM's bulk path, re-does ~25 bind parameters'
    Python work per row on every batch, which cost more than reading the files' tags.
    """
    await session.execute(_upsert_statement(session.get_bind().dialect.name, tuple(rows[0])), rows)


@functools.cache
def _upsert_statement(dialect: str, columns: tuple[str, ...]) -> Any:
    stmt = (sqlite_insert if dialect == "sqlite" else pg_insert)(cast(Table, Media.__table__))
    fields = {k: stmt.excluded[k] for k in columns if k not in ("path", "added_at")}
    return stmt.on_conflict_do_update(index_elements=["path"], set_=fields)


async def _store_failures(session: AsyncSession, rows: list[tuple[str, str, int | None, float | None]]) -> None:
    for chunk in _chunks(rows, 500):
        paths = [r[0] for r in chunk]
        await session.execute(delete(UnreadableFile).where(UnreadableFile.path.in_(paths)))
        await session.execute(insert(UnreadableFile), [
            {"path": p, "reason": reason[:1000], "size": size, "mtime": mtime, "seen_at": utcnow()}
            for p, reason, size, mtime in chunk
        ])


async def _forget_fixed(session: AsyncSession, paths: list[str]) -> None:
    """Drop the unreadable-file record of files that read fine now (repaired or replaced)."""
    for chunk in _chunks(paths, 500):
        await session.execute(delete(UnreadableFile).where(UnreadableFile.path.in_(chunk)))


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
