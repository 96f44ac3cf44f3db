"""Subscriptions benchmark: one periodic round over 100 podcast subscriptions whose feeds have nothing new,
against fetching the same 100 feeds with a plain `httpx` loop in the same run.

    python3 run.py python bench/subscriptions_bench.py [--feeds 100] [--episodes 50] [--rounds 5]
                                                       [--databases sqlite,postgresql]
                                                       [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

A feed server on 127.0.0.1 in a process of its own (tests/subscriptions/feedserver.py: RSS 2.0 with ETag
and Last-Modified, a 304 for a conditional GET that matches) serves --feeds feeds of --episodes episodes
each. On each database (a
fresh SQLite file; on PostgreSQL a database made for the run and dropped after) the feeds are subscribed
and checked once, which indexes their episodes and keeps each feed's validators. Then, --rounds times in
turns:
- MediaNest: every subscription made due, and one periodic round (`Checker.check_due`, as the worker runs
  it: a lease taken per subscription, a conditional GET, the lease given back with the next check's time);
- plain httpx: the same conditional GETs, one after another, with one client (the issue's peer);
- plain httpx, 8 at a time (MediaNest checks 8 subscriptions at once: the fair peer for its concurrency).
It prints the best and median time of each, the requests the feed server saw per round and their statuses,
and MediaNest's time as a multiple of each peer's. It asserts nothing. The issue's target: at most 1.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medianest.accounts.models import User  # noqa: E402
from medianest.config import Settings  # noqa: E402
from medianest.db.base import utcnow  # noqa: E402
from medianest.db.engine import create_engine, create_session_factory  # noqa: E402
from medianest.db.migrate import upgrade_async  # noqa: E402
from medianest.events import LogNotifier  # noqa: E402
from medianest.library.artwork import Artwork  # noqa: E402
from medianest.subscriptions.checks import Checker  # noqa: E402
from medianest.subscriptions.feeds import feed_client  # noqa: E402
from medianest.subscriptions.models import Subscription  # noqa: E402

PEER_CONCURRENCY = 8


class NoQueue:
    """Nothing is new, so nothing may be queued: a download here would be a bug the bench must show."""

    def enqueue(self, *args: Any) -> None:
        raise AssertionError(f"a download was queued: {args}")


class Feeds:
    """The feed server in a process of its own (it must not share this process's interpreter lock)."""

    def __init__(self, feeds: int, episodes: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.subscriptions.feedserver", str(feeds),
                                      str(episodes)], stdout=subprocess.PIPE, cwd=ROOT)
        assert self.proc.stdout is not None
        self.base = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"
        self.urls = [f"{self.base}/feeds/{f}.xml" for f in range(feeds)]

    def statuses(self) -> Counter[str]:
        return Counter(httpx.get(f"{self.base}/_statuses").json())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextlib.asynccontextmanager
async def database(kind: str, root: Path, pg_url: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{root / 'bench.db'}"
        return
    import asyncpg

    name = f"medianest_subs_bench_{int(time.time())}"
    admin = pg_url.replace("+asyncpg", "")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def subscribed(sessions: Any, urls: list[str]) -> list[int]:
    async with sessions() as session:
        user = User(username="bench", username_key="bench", password_hash="x", role="admin")
        session.add(user)
        await session.flush()
        subs = [Subscription(user_id=user.id, url=url, kind="feed", name=f"Show {i}", mode="audio",
                             quality="best", backfill=0, interval_s=3600, feed_secret="s", last_found=0,
                             next_check_at=utcnow()) for i, url in enumerate(urls)]
        session.add_all(subs)
        await session.commit()
        return [s.id for s in subs]


async def timed(fn: Callable[[], Coroutine[Any, Any, Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def plain_loop(http: httpx.AsyncClient, validators: list[tuple[str, str, str]]) -> None:
    for url, etag, modified in validators:
        r = await http.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
        assert r.status_code == 304, r.status_code


async def plain_concurrent(http: httpx.AsyncClient, validators: list[tuple[str, str, str]]) -> None:
    gate = asyncio.Semaphore(PEER_CONCURRENCY)

    async def one(url: str, etag: str, modified: str) -> None:
        async with gate:
            r = await http.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
            assert r.status_code == 304, r.status_code

    await asyncio.gather(*(one(*v) for v in validators))


async def run_database(kind: str, args: argparse.Namespace, server: Feeds) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with database(kind, Path(tmp), args.pg_url) as url:
            settings = Settings(data_dir=Path(tmp) / "data", database_url=url, downloads_allow_private_networks=True,
                                scan_on_start=False, log_level="WARNING")
            await upgrade_async(settings.db_url)
            engine = create_engine(settings.db_url)
            sessions = create_session_factory(engine)
            try:
                return await measure(settings, sessions, server, args.rounds)
            finally:
                await engine.dispose()


async def measure(settings: Settings, sessions: Any, server: Feeds, rounds: int) -> dict[str, Any]:
    ids = await subscribed(sessions, server.urls)
    async with feed_client(settings) as http:
        checker = Checker(settings, sessions, http, NoQueue(), LogNotifier(), Artwork(settings.artwork_dir))  # type: ignore[arg-type]
        assert await checker.check_due() == len(ids)  # the first check: indexes, keeps the validators
        async with sessions() as session:
            rows = (await session.execute(
                Subscription.__table__.select().with_only_columns(
                    Subscription.url, Subscription.etag, Subscription.last_modified))).all()
        validators = [(r.url, r.etag, r.last_modified) for r in rows]
        times: dict[str, list[float]] = {"medianest": [], "plain": [], "plain8": []}
        seen: dict[str, Counter[str]] = {k: Counter() for k in times}

        async def round_medianest() -> None:
            async with sessions() as session:
                await session.execute(update(Subscription).values(next_check_at=utcnow()))
                await session.commit()
            before = server.statuses()
            times["medianest"].append(await timed(checker.check_due))
            seen["medianest"].update(server.statuses() - before)

        for _ in range(rounds):
            await round_medianest()
            for name, fn in (("plain", plain_loop), ("plain8", plain_concurrent)):
                before = server.statuses()
                times[name].append(await timed(lambda fn=fn: fn(http, validators)))  # type: ignore[misc]
                seen[name].update(server.statuses() - before)
    return {"times": times, "seen": seen, "rounds": rounds}


def report(console: Console, results: dict[str, dict[str, Any]], feeds: int) -> None:
    table = Table(title=f"one round over {feeds} unchanged feeds (best / median of the rounds)")
    for column in ("database", "MediaNest round", "plain httpx loop", "httpx, 8 at a time", "requests per round",
                   "ratio vs loop", "ratio vs 8 at a time"):
        table.add_column(column)
    for kind, res in results.items():
        t = res["times"]
        best = {k: min(v) for k, v in t.items()}
        med = {k: statistics.median(v) for k, v in t.items()}
        per_round = {k: {s: n // res["rounds"] for s, n in c.items()} for k, c in res["seen"].items()}
        table.add_row(kind, f"{best['medianest']*1000:.0f} / {med['medianest']*1000:.0f} ms",
                      f"{best['plain']*1000:.0f} / {med['plain']*1000:.0f} ms",
                      f"{best['plain8']*1000:.0f} / {med['plain8']*1000:.0f} ms",
                      f"MediaNest {per_round['medianest']}, loop {per_round['plain']}",
                      f"{med['medianest']/med['plain']:.2f}x", f"{med['medianest']/med['plain8']:.2f}x")
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    console = Console()
    results = {}
    server = Feeds(args.feeds, args.episodes)
    try:
        for kind in args.databases.split(","):
            console.print(f"[bold]{kind}[/]: subscribing to {args.feeds} feeds and checking them once...")
            results[kind] = await run_database(kind, args, server)
    finally:
        server.close()
    report(console, results, args.feeds)


if __name__ == "__main__":
    asyncio.run(main())
