"""Download jobs: the huey queue that dispatches them, and the runner that carries one out.

huey only carries "run download N"; the state is the `downloads` row. A runner claims the row
(queued -> running) so a message delivered twice runs once, keeps a heartbeat while it works, polls
for a cancel, retries transient failures with backoff (yt-dlp resumes the `.part` file), and on
success moves the file into the library and indexes it with the scanner's own code.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog
from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy import or_, select, update

from medianest.config import Settings
from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory, create_engine, create_session_factory
from medianest.downloads import events, process
from medianest.downloads.models import CANCELED, COMPLETED, FAILED, QUEUED, RUNNING, Download, DownloadItem
from medianest.downloads.placement import place
from medianest.downloads.ytdlp import Failure, Spec
from medianest.events import DOWNLOAD_PROGRESS_INTERVAL_S, LIBRARY_UPDATED, Landed, Notifier
from medianest.library.folders import EMPTY, prefix, root_problem_now
from medianest.library.models import KIND_AUDIO, KIND_VIDEO, Media
from medianest.library.probe import Unreadable
from medianest.library.scanner import Scanner
from medianest.text import clean_text

log = structlog.get_logger(__name__)

ATTEMPTS = 3
# A cancel is a flag in the row; looking twice a second keeps the promised stop within 2 s.
CANCEL_POLL_S = 0.5
HEARTBEAT_S = 5.0
CHILD_POLL_S = 0.05
# Looking at what a URL is (a page, a playlist) must not hold a worker forever.
LOOK_TIMEOUT_S = 120
TASK = "medianest.download"
MAX_ERROR_CHARS = 1000
# An idle SQLite queue is polled; huey's default backoff lets the gap grow to 10 s, which a user who just
# pressed "download" would wait through. Ten polls a second of one indexed table cost next to nothing
# (Redis blocks on the list instead and wakes at once).
POLLING = {"initial_delay": 0.05, "backoff": 1.15, "max_delay": 0.1}
T = TypeVar("T")


class Canceled(Exception):
    """The user canceled the download while it ran."""


class Interrupted(Exception):
    """This process is shutting down: the download goes back to the queue, its `.part` file kept."""


class DownloadQueue:
    """The huey instance (SQLite file embedded, Redis when configured) and the one task it runs."""

    def __init__(self, settings: Settings, notifier: Callable[[], Notifier] | None = None) -> None:
        self.settings = settings
        # Called inside each job's own event loop: a notifier may hold loop-bound resources (Redis).
        self.notifier = notifier or _null_notifier
        self.huey = _make_huey(settings)
        self._task = self.huey.task(name=TASK)(self._run)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._running = 0
        # Told where files landed (services/jobs.py: a Plex refresh); None: nobody listens.
        self.landed: Landed | None = None

    def enqueue(self, download_id: int) -> None:
        self._task(download_id)

    def consumer(self) -> EmbeddedConsumer:
        return EmbeddedConsumer(self.huey, workers=self.settings.downloads_concurrency, worker_type="thread",
                                periodic=True, **POLLING)

    def shutdown(self, consumer: Consumer, timeout_s: float = 10) -> None:
        """Stop taking jobs; running ones kill their child and return to the queue for the next start.
        Waits for those only: huey's graceful stop would also wait out each idle thread's poll delay."""
        self.stopping.set()
        deadline = time.monotonic() + timeout_s
        while self._running and time.monotonic() < deadline:
            time.sleep(0.02)
        consumer.stop(graceful=False)

    def _run(self, download_id: int) -> None:
        # A huey worker thread: its own event loop and database engine for the job's lifetime.
        with self._lock:
            self._running += 1
        try:
            asyncio.run(self._run_async(download_id))
        finally:
            with self._lock:
                self._running -= 1

    async def _run_async(self, download_id: int) -> None:
        engine = create_engine(self.settings.db_url)
        try:
            runner = Runner(create_session_factory(engine), self.settings, self.notifier(), self.stopping,
                            self.landed)
            await runner.run(download_id)
        finally:
            await engine.dispose()


class EmbeddedConsumer(Consumer):
    """huey's consumer inside another server: that server owns the process's signals."""

    def _set_signal_handlers(self) -> None:
        pass


def _make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.queue_name, filename=str(settings.data_dir / "jobs.db"), results=False)


def _null_notifier() -> Notifier:
    from medianest.realtime.notifier import LogNotifier

    return LogNotifier()


async def requeue_stale(sessions: SessionFactory, queue: DownloadQueue, stale_after_s: float,
                        include_queued: bool = False) -> list[int]:
    """Queue again what a dead worker left behind: running rows without a recent heartbeat, and (at
    start-up) queued rows, whose message may have died with the worker that had taken it. A duplicate
    message is harmless: only one runner can claim a row."""
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    silent = or_(Download.heartbeat_at.is_(None), Download.heartbeat_at < cutoff)
    async with sessions() as session:
        # One statement decides and flips: a row claimed by a live runner a moment ago is not silent,
        # so it can never be taken back (a select, then an update, could).
        flipped = await session.execute(update(Download).where(Download.status == RUNNING, silent)
                                        .values(status=QUEUED).returning(Download.id))
        ids = list(flipped.scalars().all())
        await session.commit()
        if include_queued:
            ids = list((await session.scalars(select(Download.id).where(Download.status == QUEUED)
                                              .order_by(Download.id))).all())
    for download_id in ids:
        queue.enqueue(download_id)
    return ids


@dataclass
class _Progress:
    """Where the job is, across the items of a playlist and the attempts at each. Neither percent nor
    bytes ever go back: not when a retry starts a file again, nor at the next item (bytes add up over
    the items), nor when another worker takes the download over (`floor`: what the row said then)."""

    items: int = 1
    done: int = 0
    percent: float = 0.0
    floor: int = 0
    fetched: int = 0  # the bytes of the items finished in this run
    item_bytes: int = 0  # the current item's, the most reported so far
    item_total: int | None = None
    speed: float | None = None
    eta: float | None = None
    last_sent: float = 0.0
    pending: bool = False  # a change not sent yet (it came within the throttle interval)

    def report(self, message: dict[str, Any]) -> None:
        total = message.get("total") or None
        self.item_bytes = max(self.item_bytes, message["downloaded"])
        self.item_total = max(total, self.item_bytes) if total else self.item_total
        fraction = min(self.item_bytes / self.item_total, 1.0) if self.item_total else 0.0
        self._advance(self.done + fraction)
        self.speed, self.eta = message.get("speed"), message.get("eta")

    def item_finished(self, fetched_bytes: int) -> None:
        """One item done: its real size counts (more than reported, if reports were skipped)."""
        self.fetched += max(fetched_bytes, self.item_bytes)
        self.item_bytes, self.item_total, self.speed, self.eta = 0, None, None, None
        self.done += 1
        self._advance(self.done)

    def downloaded(self) -> int:
        return max(self.floor, self.fetched + self.item_bytes)

    def values(self) -> dict[str, Any]:
        downloaded = self.downloaded()
        if self.item_total is not None:
            total: int | None = max(self.fetched + self.item_total, downloaded)
        elif self.item_bytes:
            total = None  # this file's size is not known (yet)
        else:
            total = downloaded  # between items, or all done: what was fetched is all there is so far
        return {"percent": self.percent, "downloaded_bytes": downloaded, "total_bytes": total or None,
                "speed_bps": self.speed, "eta_s": self.eta, "phase": "downloading"}

    def _advance(self, items_done: float) -> None:
        self.percent = max(self.percent, round(100 * items_done / self.items, 1))
        self.pending = True


class Runner:
    def __init__(self, sessions: SessionFactory, settings: Settings, notifier: Notifier,
                 stopping: threading.Event | None = None, landed: Landed | None = None) -> None:
        self.sessions = sessions
        self.landed = landed
        self.folders: set[Path] = set()  # where this job's files landed
        self.settings = settings
        self.notifier = notifier
        self.stopping = stopping or threading.Event()
        # Several heartbeats fit in the staleness window, so a slow write never makes a live job look dead.
        self.heartbeat_s = min(HEARTBEAT_S, settings.downloads_stale_after_s / 4)
        self.scanner = Scanner(sessions, settings.library_dirs, settings.artwork_dir)

    async def run(self, download_id: int) -> None:
        dl = await self._claim(download_id)
        if dl is None:
            return  # canceled, finished, or another worker has it
        stop = asyncio.Event()
        beat = asyncio.create_task(self._beat(download_id, stop))
        try:
            await self._carry_out(dl)
        finally:
            stop.set()  # not a cancel: one in the middle of a write would leave its connection half closed
            await beat

    async def _beat(self, download_id: int, stop: asyncio.Event) -> None:
        """The heartbeat, for the job's whole life (the first look at a slow site included): while it
        is fresh, no other worker takes the download back."""
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.heartbeat_s)
            if not stop.is_set():
                async with self.sessions() as session:
                    await session.execute(update(Download).where(Download.id == download_id,
                                                                 Download.status == RUNNING)
                                          .values(heartbeat_at=utcnow()))
                    await session.commit()

    async def _carry_out(self, dl: Download) -> None:
        download_id = dl.id
        await events.announce(self.notifier, dl)
        tmp = self.settings.downloads_tmp_dir / str(download_id)
        keep_tmp = False
        progress = _Progress(percent=dl.percent or 0.0, floor=dl.downloaded_bytes or 0)
        try:
            await self._fetch_all(dl, tmp, progress)
            fetched = progress.downloaded()
            await self._finish(dl, COMPLETED, downloaded_bytes=fetched, total_bytes=fetched)
            if self.landed and self.folders:  # once per download: a 50-video playlist is one refresh
                await self.landed(self.sessions, sorted(self.folders))
        except Interrupted:
            keep_tmp = True
            async with self.sessions() as session:  # back to the queue, unless a cancel came first
                await session.execute(update(Download).where(Download.id == download_id, Download.status == RUNNING)
                                      .values(status=QUEUED, heartbeat_at=None, phase=None))
                await session.commit()
        except Canceled:
            pass  # the cancel already announced itself (service.cancel_or_remove); the files go below
        except Failure as failure:
            await self._finish(dl, FAILED, error=failure.reason)
        except Exception as exc:
            log.exception("download crashed", download_id=download_id)
            await self._finish(dl, FAILED, error=f"internal error: {type(exc).__name__}")
        finally:
            if not keep_tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    async def _claim(self, download_id: int) -> Download | None:
        now = utcnow()
        async with self.sessions() as session:
            claimed = await session.execute(
                update(Download).where(Download.id == download_id, Download.status == QUEUED)
                .values(status=RUNNING, started_at=now, heartbeat_at=now, error=None))
            await session.commit()
        return await self._get(download_id) if claimed.rowcount == 1 else None  # type: ignore[attr-defined]

    async def _get(self, download_id: int) -> Download:
        async with self.sessions() as session:
            dl = await session.get(Download, download_id)
        assert dl is not None
        return dl

    async def _fetch_all(self, dl: Download, tmp: Path, progress: _Progress) -> None:
        items = await self._items(dl)
        progress.items = len(items)
        for item in items:
            if item.media_id is None and not await self._link_existing(dl, item):
                await self._fetch_item(dl, item, tmp / str(item.position), progress)
            else:
                progress.item_finished(0)  # already in the library: nothing fetched

    async def _items(self, dl: Download) -> list[DownloadItem]:
        """The download's items, found once (a playlist's entries, or the one video) and stored."""
        async with self.sessions() as session:
            items = list((await session.scalars(select(DownloadItem).where(DownloadItem.download_id == dl.id)
                                                .order_by(DownloadItem.position))).all())
        if items:
            return items
        args = (dl.url, dl.playlist_limit, self.settings.ffmpeg_path)
        allow = self.settings.downloads_allow_private_networks
        info = await self._retrying(dl, lambda: process.run("entries", args, allow, LOOK_TIMEOUT_S))
        found = info["entries"] if info["is_playlist"] else [info | {"url": dl.url}]
        async with self.sessions() as session:
            items = [DownloadItem(download_id=dl.id, position=i, url=e["url"], title=e.get("title"),
                                  source_site=e.get("site") or info.get("site"), source_id=e.get("id") or None)
                     for i, e in enumerate(found)]
            session.add_all(items)
            await session.execute(update(Download).where(Download.id == dl.id).values(title=info.get("title")))
            await session.commit()
        if not items:
            raise Failure("the playlist has no entries", transient=False)
        return items

    async def _link_existing(self, dl: Download, item: DownloadItem) -> bool:
        """The same source in the same mode already in the library: link it instead of downloading."""
        if not item.source_id or not item.source_site:
            return False
        kind = KIND_AUDIO if dl.mode == "audio" else KIND_VIDEO
        async with self.sessions() as session:
            media_id = await session.scalar(select(Media.id).where(
                Media.source_site == item.source_site, Media.source_id == item.source_id, Media.kind == kind,
                Media.deleted_at.is_(None)).limit(1))
            if media_id is None:
                return False
            await session.execute(update(DownloadItem).where(DownloadItem.id == item.id).values(media_id=media_id))
            await session.commit()
        return True

    async def _fetch_item(self, dl: Download, item: DownloadItem, tmp: Path, progress: _Progress) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        spec = Spec(url=item.url, mode=dl.mode, quality=dl.quality, audio_format=dl.audio_format,
                    audio_quality=dl.audio_quality, tmp_dir=str(tmp), ffmpeg_path=self._ffmpeg(),
                    max_filesize=(self.settings.downloads_max_filesize_mb or 0) * 1024 * 1024 or None)
        result = await self._retrying(dl, lambda: self._attempt(dl, spec, progress), counted=True)
        progress.item_finished(int(result.get("bytes") or 0))
        await self._send_progress(dl, progress, wait=True)  # the last word on this file, however small
        await self._update(dl.id, phase="processing")
        await self._store(dl, item, result)

    async def _retrying(self, dl: Download, attempt: Callable[[], Awaitable[T]], counted: bool = False) -> T:
        """`attempt` up to ATTEMPTS times, backing off (2 s, 4 s by default) after transient failures;
        `counted` attempts are the downloads the API shows in `attempts`."""
        for n in range(1, ATTEMPTS + 1):
            if counted:
                await self._update(dl.id, attempts=Download.attempts + 1, phase="downloading")
            try:
                return await attempt()
            except Failure as failure:
                if not failure.transient or n == ATTEMPTS:
                    raise
                log.info("download retry", download_id=dl.id, attempt=n, reason=failure.reason)
                await self._wait_or_cancel(dl.id, self.settings.downloads_retry_backoff_s * 2 ** (n - 1))
        raise AssertionError("unreachable")

    def _ffmpeg(self) -> str:
        from medianest.library.ffmpeg import ffmpeg_exe

        return self.settings.ffmpeg_path or ffmpeg_exe()

    async def _attempt(self, dl: Download, spec: Spec, progress: _Progress) -> dict[str, Any]:
        """One run of the child process, watched: progress out, cancel in."""
        child = process.Child("download", (spec,), self.settings.downloads_allow_private_networks)
        next_check = time.monotonic() + CANCEL_POLL_S
        try:
            while True:
                for message in child.messages():
                    if message["type"] == "done":
                        return dict(message["result"])
                    if message["type"] == "failed":
                        raise Failure(message["reason"], transient=message["transient"])
                    await self._on_message(dl, message, progress)
                await self._send_progress(dl, progress)  # what the throttle held back, once it may go
                if self.stopping.is_set():
                    raise Interrupted
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + CANCEL_POLL_S
                    if await self._canceled(dl.id):
                        child.kill()
                        raise Canceled
                await asyncio.sleep(CHILD_POLL_S)
        finally:
            child.kill()

    async def _on_message(self, dl: Download, message: dict[str, Any], progress: _Progress) -> None:
        if message["type"] == "phase":
            await self._update(dl.id, phase=message["phase"])
            return
        progress.report(message)
        await self._send_progress(dl, progress)

    async def _send_progress(self, dl: Download, progress: _Progress, wait: bool = False) -> None:
        """Store and announce the progress if it changed, at most once per interval (API.md): a change
        within the interval waits for the next call, or, with `wait`, for the interval to end."""
        if not progress.pending:
            return
        early = progress.last_sent + DOWNLOAD_PROGRESS_INTERVAL_S - time.monotonic()
        if early > 0:
            if not wait:
                return
            await asyncio.sleep(early)
        progress.last_sent, progress.pending = time.monotonic(), False
        values = progress.values()
        await self._update(dl.id, **values)
        await events.progress(self.notifier, dl, values)

    async def _looks_unmounted(self, root: Path) -> bool:
        """Whether `root` is empty while the library has items from it (a share not mounted); the query
        only for an empty `root`, which a download into a library in use hardly ever meets."""
        if root_problem_now(root) != EMPTY:
            return False
        async with self.sessions() as session:
            found = await session.scalar(select(Media.id).where(
                Media.path.startswith(prefix(str(root)), autoescape=True)).limit(1))
        return found is not None

    async def _store(self, dl: Download, item: DownloadItem, result: dict[str, Any]) -> None:
        """Move the file into the library, index it, and link the item to the new media."""
        root = self.settings.library_dirs[0]
        unmounted = await self._looks_unmounted(root)
        path = place(Path(result["file"]), root, self.settings.downloads_template, result, indexed=unmounted)
        self.folders.add(path.parent)
        extra = {"source_url": result.get("url") or item.url, "source_site": result.get("site"),
                 "source_id": result.get("id") or None, "channel": result.get("channel")}
        if result.get("uploaded_at"):
            from datetime import datetime

            extra["uploaded_at"] = datetime.fromisoformat(result["uploaded_at"])
        try:
            media_id = await self.scanner.ingest(path, extra)
        except Unreadable as exc:
            path.unlink(missing_ok=True)
            raise Failure(f"the downloaded file is not playable media: {exc.reason}", transient=False) from None
        async with self.sessions() as session:
            await session.execute(update(DownloadItem).where(DownloadItem.id == item.id)
                                  .values(media_id=media_id, title=result.get("title") or item.title))
            await session.commit()
        await self.notifier.emit(LIBRARY_UPDATED, {"added": 1, "media_ids": [str(media_id)]})

    async def _finish(self, dl: Download, status: str, error: str | None = None, **extra: Any) -> None:
        values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "phase": None,
                                  "error": None if error is None else clean_text(error)[:MAX_ERROR_CHARS],
                                  "speed_bps": None, "eta_s": None, **extra}
        if status == COMPLETED:
            values["percent"] = 100.0
        async with self.sessions() as session:
            # Only a running row: a cancel that landed meanwhile wins (and has announced itself).
            done = await session.execute(update(Download).where(Download.id == dl.id, Download.status == RUNNING)
                                         .values(**values))
            await session.commit()
        if done.rowcount == 1:  # type: ignore[attr-defined]
            await events.announce(self.notifier, await self._get(dl.id))

    async def _canceled(self, download_id: int) -> bool:
        async with self.sessions() as session:
            status = await session.scalar(select(Download.status).where(Download.id == download_id))
        return status in (CANCELED, None)

    async def _wait_or_cancel(self, download_id: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                raise Interrupted
            if await self._canceled(download_id):
                raise Canceled
            await asyncio.sleep(min(CANCEL_POLL_S, max(deadline - time.monotonic(), 0)))

    async def _update(self, download_id: int, **values: Any) -> None:
        async with self.sessions() as session:
            await session.execute(update(Download).where(Download.id == download_id).values(**values))
            await session.commit()
