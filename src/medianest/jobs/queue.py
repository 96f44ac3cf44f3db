"""`Jobs`: the huey queue and the registry of what it runs.

A capability registers its work here (`<capability>/tasks.py`), never on huey itself:
- `task(name)`: run on demand (`enqueue`) or later (`schedule`), e.g. "download N";
- `periodic(name, every_s)`: offered by huey's scheduler, e.g. the status checks;
- `watcher(name, every_s)`: a loop on the consuming process's own event loop and database, for work that
  must run where the queue is consumed but is not a job (taking back the downloads of dead workers);
- `housekeeping(name, every_s)`: a loop in each *serving* process, on its own event loop, for the things
  that process owns (its idle encoders, its share of the transcode cache); see also `processes.py`;
- `warm_up_with(fn)`: run in a thread when a dedicated `medianest worker` starts (the yt-dlp fork
  server). The embedded consumer in `serve` skips it: there the fork server (about 70 MB) starts with
  the first download instead of idling beside every server that never downloads.

huey only carries a task's name and arguments; the state lives in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer

from medianest.config import Settings
from medianest.db.engine import SessionFactory
from medianest.events import LogNotifier, Notifier
from medianest.jobs.context import job_context

log = structlog.get_logger(__name__)

# An idle SQLite queue is polled; huey's default backoff lets the gap grow to 10 s, which a user who just
# pressed "download" would wait through. Ten polls a second of one indexed table cost next to nothing
# (Redis blocks on the list instead and wakes at once).
POLLING = {"initial_delay": 0.05, "backoff": 1.15, "max_delay": 0.1}

TaskFn = Callable[..., Awaitable[Any]]  # async def fn(context: JobContext, *args)
# A watcher gets the consuming process's database and whether this is its first round since start-up.
WatcherFn = Callable[[SessionFactory, bool], Awaitable[None]]
HousekeepingFn = Callable[[], Awaitable[None]]


def release_freed_memory() -> None:
    """Hand back to the system what a finished job freed (glibc keeps freed memory in each thread's
    arena for reuse: after a scan or a download, tens of MB an idle server would go on holding)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> Any:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only: musl and other libcs have none
        return libc
    return None


_LIBC = _glibc()


def every(seconds: float) -> Callable[[datetime], bool]:
    """huey's periodic tasks are offered each minute; this takes every `seconds // 60`-th one."""
    minutes = max(1, int(seconds) // 60)
    return lambda dt: (dt.hour * 60 + dt.minute) % minutes == 0


class Task:
    """A registered task, to queue: `enqueue(*args)` now, `schedule(*args, delay=s)` later."""

    def __init__(self, wrapper: TaskWrapper) -> None:
        self._wrapper = wrapper

    def enqueue(self, *args: Any) -> None:
        self._wrapper(*args)

    def schedule(self, *args: Any, delay: float) -> None:
        self._wrapper.schedule(args=args, delay=delay)


@dataclass(frozen=True)
class Watcher:
    name: str
    every_s: float
    fn: WatcherFn


@dataclass(frozen=True)
class Housekeeper:
    name: str
    every_s: float
    fn: HousekeepingFn


class Jobs:
    """The queue of one process (`notifier`: made in each task's own event loop, since a notifier may hold
    loop-bound resources such as a Redis connection)."""

    def __init__(self, settings: Settings, notifier: Callable[[], Notifier] | None = None) -> None:
        self.settings = settings
        self.notifier = notifier or LogNotifier
        self.huey = make_huey(settings)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._running = 0
        self.watchers: list[Watcher] = []
        self.housekeepers: list[Housekeeper] = []
        self._warm_ups: list[Callable[[], None]] = []

    def task(self, name: str) -> Callable[[TaskFn], Task]:
        def register(fn: TaskFn) -> Task:
            return Task(self.huey.task(name=name)(self._in_thread(fn)))
        return register

    def periodic(self, name: str, every_s: float) -> Callable[[TaskFn], TaskFn]:
        def register(fn: TaskFn) -> TaskFn:
            self.huey.periodic_task(every(every_s), name=name)(self._in_thread(fn))
            return fn
        return register

    def watcher(self, name: str, every_s: float) -> Callable[[WatcherFn], WatcherFn]:
        def register(fn: WatcherFn) -> WatcherFn:
            self.watchers.append(Watcher(name, every_s, fn))
            return fn
        return register

    def housekeeping(self, name: str, every_s: float) -> Callable[[HousekeepingFn], HousekeepingFn]:
        def register(fn: HousekeepingFn) -> HousekeepingFn:
            self.housekeepers.append(Housekeeper(name, every_s, fn))
            return fn
        return register

    def warm_up_with(self, fn: Callable[[], None]) -> None:
        self._warm_ups.append(fn)

    def _in_thread(self, fn: TaskFn) -> Callable[..., Any]:
        """What huey calls in its worker thread: `fn` in an event loop and a `JobContext` of its own."""
        def run(*args: Any) -> Any:
            with self._lock:
                self._running += 1
            try:
                return asyncio.run(self._with_context(fn, args))
            finally:
                with self._lock:
                    self._running -= 1
                release_freed_memory()
        run.__name__ = run.__qualname__ = getattr(fn, "__name__", "task")
        return run

    async def _with_context(self, fn: TaskFn, args: tuple[Any, ...]) -> Any:
        async with job_context(self.settings, self.notifier(), self.stopping) as context:
            return await fn(context, *args)

    def consumer(self) -> Consumer:
        """An embedded consumer (inside `serve` or a CLI command, which own the process's signals)."""
        return EmbeddedConsumer(self.huey, workers=self.settings.downloads_concurrency, worker_type="thread",
                                periodic=True, **POLLING)

    def standalone_consumer(self) -> Consumer:
        """`medianest worker`'s: huey's own signal handling (SIGINT waits for running jobs, SIGTERM stops)."""
        return self.huey.create_consumer(workers=self.settings.downloads_concurrency, worker_type="thread",
                                         periodic=True, **POLLING)

    def shutdown(self, consumer: Consumer, timeout_s: float = 10) -> None:
        """Stop taking jobs; running ones see `stopping` and end early (a download goes back to the queue
        for the next start, a scan is marked interrupted).
        Waits for those only: huey's graceful stop would also wait out each idle thread's poll delay."""
        self.stopping.set()
        deadline = time.monotonic() + timeout_s
        while self._running and time.monotonic() < deadline:
            time.sleep(0.02)
        consumer.stop(graceful=False)

    def warm_up(self) -> None:
        for fn in self._warm_ups:
            fn()

    @contextlib.asynccontextmanager
    async def consuming(self, sessions: SessionFactory) -> AsyncIterator[None]:
        """The embedded mode: consumer threads and watchers (no warm-ups), until the block ends."""
        consumer = self.consumer()
        consumer.start()
        stop = asyncio.Event()
        watching = asyncio.create_task(self.watch(sessions, stop))
        try:
            yield
        finally:
            # Stopped, not cancelled: a cancel in the middle of a query would leave its connection half
            # closed, and disposing of the engine would then wait for it forever.
            stop.set()
            await watching
            await asyncio.to_thread(self.shutdown, consumer)

    @contextlib.asynccontextmanager
    async def keeping_house(self) -> AsyncIterator[None]:
        """A serving process's housekeeping loops, until the block ends."""
        stop = asyncio.Event()
        loops = asyncio.gather(*(_every(h.every_s, h.name, h.fn, stop) for h in self.housekeepers))
        try:
            yield
        finally:
            stop.set()
            await loops

    async def watch(self, sessions: SessionFactory, stop: asyncio.Event) -> None:
        """Every watcher, each at its own pace, until `stop`."""
        await asyncio.gather(*(self._watch(w, sessions, stop) for w in self.watchers))

    async def _watch(self, watcher: Watcher, sessions: SessionFactory, stop: asyncio.Event) -> None:
        first = True
        while not stop.is_set():
            try:
                await watcher.fn(sessions, first)
                first = False
            except Exception:
                log.exception("watcher failed", watcher=watcher.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), watcher.every_s)


async def _every(every_s: float, name: str, fn: HousekeepingFn, stop: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
        try:
            await fn()
        except Exception:
            log.exception("housekeeping failed", task=name)


class EmbeddedConsumer(Consumer):
    """huey's consumer inside another server: that server owns the process's signals."""

    def _set_signal_handlers(self) -> None:
        pass


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.queue_name, filename=str(settings.data_dir / "jobs.db"), results=False)
