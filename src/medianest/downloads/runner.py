"""The runner that carries out one download job (downloads/tasks.py queues it; jobs/ runs it).

It claims the row (queued -> running) so a message delivered twice runs once, keeps a heartbeat while it
works (and stops, leaving its files to the next run, when it learns the download was taken back from it),
polls for a cancel, retries transient failures with backoff (yt-dlp resumes the `.part` file), and
on success moves the file into the library and indexes it with the scanner's own code. The row writes are
in rows.py, the progress and its throttle in progress.py: this module decides the order.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy import select

from medianest.downloads import events, process, rows
from medianest.downloads.landing import ObjectLanding
from medianest.downloads.models import COMPLETED, FAILED, KIND_MEDIA, Download, DownloadItem
from medianest.downloads.placement import place
from medianest.downloads.progress import Clock, Progress, Throttle
from medianest.downloads.sources import Source, Sources
from medianest.downloads.spec import Failure, Spec
from medianest.events import DOWNLOAD_PROGRESS_INTERVAL_S, LIBRARY_UPDATED
from medianest.jobs.context import JobContext, Landed
from medianest.library.buckets import bucket_folders
from medianest.library.folders import EMPTY, prefix, root_problem_now
from medianest.library.models import Media
from medianest.library.probe import Unreadable
from medianest.library.scanner import PerVideo, Scanner

log = structlog.get_logger(__name__)

ATTEMPTS = 3
# A cancel is a flag in the row; looking twice a second keeps the promised stop within 2 s.
CANCEL_POLL_S = 0.5
HEARTBEAT_S = 5.0
CHILD_POLL_S = 0.05
# Looking at what a URL is (a page, a playlist) must not hold a worker forever.
LOOK_TIMEOUT_S = 120
T = TypeVar("T")


class Canceled(Exception):
    """The user canceled the download while it ran."""


class Interrupted(Exception):
    """This process is shutting down: the download goes back to the queue, its `.part` file kept."""


class Lost(Exception):
    """Another worker took the download back (this one looked dead): it carries on from the files left."""


class Runner:
    """One run of one download, in a job's context; `landed` hears where its files went (a Plex refresh),
    `per_video` is what the scanner also indexes for a video (its subtitles), `sources` fetch the
    downloads that are not yt-dlp's (by kind), `clock` times the progress throttle, the cancel polls and
    the retry back-off."""

    def __init__(self, context: JobContext, landed: Landed | None = None, per_video: PerVideo | None = None,
                 clock: Clock = time.monotonic, sources: Sources | None = None) -> None:
        self.context = context
        self.sources = sources or {}
        self.sessions, self.settings, self.notifier = context.sessions, context.settings, context.notifier
        self.landed = landed
        self.clock = clock
        self.throttle = Throttle(DOWNLOAD_PROGRESS_INTERVAL_S, clock)
        self.folders: set[Path] = set()  # where this job's files landed
        # Several heartbeats fit in the staleness window, so a slow write never makes a live job look dead.
        self.heartbeat_s = min(HEARTBEAT_S, self.settings.downloads_stale_after_s / 4)
        s = self.settings
        # With the bucket's folders, covers it finds are shared through the bucket too (library/artwork.py).
        self.scanner = Scanner(self.sessions, s.library_dirs, s.artwork_dir, per_video,
                               bucket_folders(s, context.bucket))
        bucket = context.bucket if s.downloads_storage == "s3" else None
        # Where files land when downloads go to the bucket (None: the first media folder).
        self.landing = ObjectLanding(self.sessions, bucket, s.s3_downloads_prefix, s.downloads_template) \
            if bucket is not None else None
        self.claim: str | None = None
        self.lost = asyncio.Event()

    async def run(self, download_id: int) -> None:
        dl = await rows.claim(self.sessions, download_id)
        if dl is None:
            return  # canceled, finished, or another worker has it
        self.claim = dl.claim
        stop = asyncio.Event()
        beat = asyncio.create_task(self._beat(download_id, stop))
        try:
            await self._carry_out(dl)
        finally:
            stop.set()  # not a cancel: one in the middle of a write would leave its connection half closed
            await beat

    async def _beat(self, download_id: int, stop: asyncio.Event) -> None:
        """The heartbeat, for the job's whole life (the first look at a slow site included)."""
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.heartbeat_s)
            if not stop.is_set() and not await rows.beat(self.sessions, download_id, self.claim):
                self.lost.set()
                return

    async def _carry_out(self, dl: Download) -> None:
        await events.announce(self.notifier, dl)
        tmp = self.settings.downloads_tmp_dir / str(dl.id)
        settled = False  # the temporary files already cleared, or kept for another run
        progress = Progress(percent=dl.percent or 0.0, floor=dl.downloaded_bytes or 0)
        # The temporary files go before the final status is written: whoever sees it (a client, a
        # test) finds nothing left behind.
        try:
            await self._fetch_all(dl, tmp, progress)
            fetched = progress.downloaded()
            await self._clear(dl.id, tmp)
            settled = True
            await self._finish(dl, COMPLETED, downloaded_bytes=fetched, total_bytes=fetched)
            if self.landed and self.folders:  # once per download: a 50-video playlist is one refresh
                await self.landed(self.sessions, sorted(self.folders))
        except Interrupted:
            settled = True
            await rows.back_to_queue(self.sessions, dl.id, self.claim)
        except Lost:
            settled = True
            log.warning("download taken back by another worker; stopped here", download_id=dl.id)
        except Canceled:
            pass  # the cancel already announced itself (service.cancel_or_remove); the files go below
        except Failure as failure:
            await self._clear(dl.id, tmp, failed=True)
            settled = True
            await self._finish(dl, FAILED, error=failure.reason)
        except Exception as exc:
            log.exception("download crashed", download_id=dl.id)
            await self._clear(dl.id, tmp, failed=True)
            settled = True
            await self._finish(dl, FAILED, error=f"internal error: {type(exc).__name__}")
        finally:
            if not settled:  # a cancel, or an error on the way out
                await self._clear(dl.id, tmp)

    async def _clear(self, download_id: int, tmp: Path, failed: bool = False) -> None:
        """Remove the download's temporary files, unless the download was taken back: they are the new
        run's now (and when the database cannot say, left for the next run to resume or clear). A
        download that `failed` also takes back what it uploaded to the bucket and never indexed."""
        try:
            ours = await rows.holds(self.sessions, download_id, self.claim)
        except Exception:  # a failure path already: its own error is the one reported
            log.warning("download files kept: could not check the claim", folder=str(tmp))
            return
        if ours:
            shutil.rmtree(tmp, ignore_errors=True)
        if ours and failed and self.landing is not None:
            try:
                await self.landing.discard(download_id)
            except Exception:  # the bucket down too: the next scan indexes what is left, nothing is lost
                log.warning("uploaded objects of a failed download kept", download_id=download_id)

    async def _fetch_all(self, dl: Download, tmp: Path, progress: Progress) -> None:
        items = await self._items(dl)
        progress.items = len(items)
        for item in items:
            if item.media_id is None and not await rows.link_existing(self.sessions, dl.mode, item):
                await self._fetch_item(dl, item, tmp / str(item.position), progress)
            else:
                progress.item_finished(0)  # already in the library: nothing fetched

    async def _items(self, dl: Download) -> list[DownloadItem]:
        """The download's items, found once (a playlist's entries, or the one video) and stored."""
        items = await rows.stored_items(self.sessions, dl.id)
        if items:
            return items
        source = self._source(dl)
        if source is not None:
            info = await self._retrying(dl, lambda: source.entries(self.context, dl))
        else:
            args = (dl.url, dl.playlist_limit, self.settings.ffmpeg_path)
            allow = self.settings.downloads_allow_private_networks
            info = await self._retrying(dl, lambda: process.run("entries", args, allow, LOOK_TIMEOUT_S))
        found = info["entries"] if info["is_playlist"] else [info | {"url": dl.url}]
        items = await rows.store_items(self.sessions, dl.id, info, found)
        if not items:
            raise Failure("the playlist has no entries", transient=False)
        return items

    async def _fetch_item(self, dl: Download, item: DownloadItem, tmp: Path, progress: Progress) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        spec = Spec(url=item.url, mode=dl.mode, quality=dl.quality, audio_format=dl.audio_format,
                    audio_quality=dl.audio_quality, tmp_dir=str(tmp), ffmpeg_path=self._ffmpeg(),
                    max_filesize=(self.settings.downloads_max_filesize_mb or 0) * 1024 * 1024 or None,
                    tags=await self._tags(dl, item), sponsorblock=dl.sponsorblock,
                    sponsorblock_api=self.settings.sponsorblock_api_url)
        source = self._source(dl)
        fetch = (partial(self._attempt_source, source, dl, item, tmp, progress) if source is not None
                 else partial(self._attempt, dl, spec, progress))
        result = await self._retrying(dl, fetch, counted=True)
        progress.item_finished(int(result.get("bytes") or 0))
        await self._send_progress(dl, progress, wait=True)  # the last word on this file, however small
        await rows.update_row(self.sessions, dl.id, phase="processing")
        await self._store(dl, item, result)

    async def _tags(self, dl: Download, item: DownloadItem) -> dict[str, str] | None:
        """The tags written into the item's file: the download's own, else, for an audio download of a
        playlist (an item whose URL is not the download's), the playlist's title (the download's, stored
        once its entries were found: rows.store_items) as the album and the item's place as the track."""
        if dl.tags or dl.mode != "audio" or item.url == dl.url:
            return dl.tags or None
        title = (await rows.get(self.sessions, dl.id)).title
        return {"album": title, "track": str(item.position + 1)} if title else {"track": str(item.position + 1)}

    async def _retrying(self, dl: Download, attempt: Callable[[], Awaitable[T]], counted: bool = False) -> T:
        """`attempt` up to ATTEMPTS times, backing off (2 s, 4 s by default) after transient failures;
        `counted` attempts are the downloads the API shows in `attempts`."""
        for n in range(1, ATTEMPTS + 1):
            if counted:
                await rows.update_row(self.sessions, dl.id, attempts=Download.attempts + 1, phase="downloading")
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

    async def _attempt(self, dl: Download, spec: Spec, progress: Progress) -> dict[str, Any]:
        """One run of the child process, watched: progress out, cancel in."""
        child = process.Child("download", (spec,), self.settings.downloads_allow_private_networks)
        next_check = self.clock() + CANCEL_POLL_S
        try:
            while True:
                for message in child.messages():
                    if message["type"] == "done":
                        return dict(message["result"])
                    if message["type"] == "failed":
                        raise Failure(message["reason"], transient=message["transient"])
                    await self._on_message(dl, message, progress)
                await self._send_progress(dl, progress)  # what the throttle held back, once it may go
                if self.context.stopping.is_set():
                    raise Interrupted
                if self.lost.is_set():
                    raise Lost
                if self.clock() >= next_check:
                    next_check = self.clock() + CANCEL_POLL_S
                    if await rows.canceled(self.sessions, dl.id):
                        child.kill()
                        raise Canceled
                await asyncio.sleep(CHILD_POLL_S)
        finally:
            child.kill()

    def _source(self, dl: Download) -> Source | None:
        """The registered source of a download that is not yt-dlp's; a kind nobody registered fails."""
        if dl.kind == KIND_MEDIA:
            return None
        if dl.kind not in self.sources:
            raise Failure(f"this process cannot make downloads of kind {dl.kind!r}", transient=False)
        return self.sources[dl.kind]

    async def _attempt_source(self, source: Source, dl: Download, item: DownloadItem, tmp: Path,
                              progress: Progress) -> dict[str, Any]:
        """One run of a registered source, watched like a child: progress out, cancel in (the source's
        task is cancelled)."""
        messages: list[dict[str, Any]] = []
        task = asyncio.create_task(source.fetch(self.context, dl, item, tmp, messages.append))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=CANCEL_POLL_S)
                while messages:
                    await self._on_message(dl, messages.pop(0), progress)
                if done:
                    return task.result()
                await self._send_progress(dl, progress)
                await self._stop_if_asked(dl.id)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task

    async def _stop_if_asked(self, download_id: int) -> None:
        """Raise what ends this run early: the process stopping, the download taken back, or canceled."""
        if self.context.stopping.is_set():
            raise Interrupted
        if self.lost.is_set():
            raise Lost
        if await rows.canceled(self.sessions, download_id):
            raise Canceled

    async def _on_message(self, dl: Download, message: dict[str, Any], progress: Progress) -> None:
        if message["type"] == "phase":
            await rows.update_row(self.sessions, dl.id, phase=message["phase"])
            return
        progress.report(message)
        await self._send_progress(dl, progress)

    async def _send_progress(self, dl: Download, progress: Progress, wait: bool = False) -> None:
        """Store and announce the progress if it changed, at most once per interval (API.md): a change
        within the interval waits for the next call, or, with `wait`, for the interval to end."""
        if not progress.pending:
            return
        early = self.throttle.wait_s()
        if early > 0:
            if not wait:
                return
            await asyncio.sleep(early)
        self.throttle.sent()
        progress.pending = False
        values = progress.values()
        await rows.update_row(self.sessions, dl.id, **values)
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
        """Move the file into the library (a folder or the bucket), index it, and link the item to the new media."""
        if not await rows.holds(self.sessions, dl.id, self.claim):
            raise Lost  # the run that took it back lands the file, from what this one leaves
        extra = {"source_url": result.get("url") or item.url, "source_site": result.get("site"),
                 "source_id": result.get("id") or None, "channel": result.get("channel")}
        if result.get("uploaded_at"):
            extra["uploaded_at"] = datetime.fromisoformat(result["uploaded_at"])
        if self.landing is not None:
            media_id = await self._store_object(self.landing, dl, item, result, extra)
        else:
            media_id = await self._store_file(result, extra)
        await rows.link_media(self.sessions, item, media_id, result.get("title"))
        await self.notifier.emit(LIBRARY_UPDATED, {"added": 1, "media_ids": [str(media_id)]})

    async def _store_file(self, result: dict[str, Any], extra: dict[str, Any]) -> int:
        root = self.settings.library_dirs[0]
        unmounted = await self._looks_unmounted(root)
        path = place(Path(result["file"]), root, self.settings.downloads_template, result, indexed=unmounted)
        self.folders.add(path.parent)
        try:
            return await self.scanner.ingest(path, extra)
        except Unreadable as exc:
            path.unlink(missing_ok=True)
            raise Failure(f"the downloaded file is not playable media: {exc.reason}", transient=False) from None

    async def _store_object(self, landing: ObjectLanding, dl: Download, item: DownloadItem, result: dict[str, Any],
                            extra: dict[str, Any]) -> int:
        src = Path(result["file"])
        stored = await landing.upload(dl.id, item.id, self.claim, src, result)
        try:
            media_id = await self.scanner.ingest(src, extra, stored=stored)  # tags read from the local copy
        except Unreadable as exc:
            await landing.remove(stored)
            raise Failure(f"the downloaded file is not playable media: {exc.reason}", transient=False) from None
        src.unlink(missing_ok=True)
        return media_id

    async def _finish(self, dl: Download, status: str, error: str | None = None, **extra: Any) -> None:
        if await rows.finish(self.sessions, dl.id, self.claim, status, error, **extra):
            await events.announce(self.notifier, await rows.get(self.sessions, dl.id))

    async def _wait_or_cancel(self, download_id: int, seconds: float) -> None:
        deadline = self.clock() + seconds
        while self.clock() < deadline:
            await self._stop_if_asked(download_id)
            await asyncio.sleep(min(CANCEL_POLL_S, max(deadline - self.clock(), 0)))
