"""Listing benchmark: `GET /api/v1/media` through a real `medianest serve` at 100,000 items, against the raw SQL
of the same page on the same database in the same run, on SQLite and on PostgreSQL.

    python3 run.py python bench/listing_bench.py [--items 100000] [--requests 200]
                                                 [--databases sqlite,postgresql] [--workers-pg 2]

For each database a fresh server starts (its own data folder; on PostgreSQL a database created for the run at
--pg-url and dropped after, served by --workers-pg processes as the scaled mode runs) on the generated library
of --items tagged mp3s (bench/scan_corpus.py; the folder scan_bench.py and memory_bench.py use, so a corpus
built there is reused), and its start-up scan indexes it: the rows are real scanned rows. On PostgreSQL the
bench then runs VACUUM ANALYZE, as autovacuum does after a bulk load (a server with autovacuum off plans every
query for a table of a few rows). Then, one request at a time, for each case (a sort and order, page 1 and
page 1,500 of 50; a kind filter; a genre filter): --requests API requests (a signed-in user's bearer token)
and as many runs of the raw SQL of the same page straight through the driver (sqlite3, asyncpg) on the same
database: the count for the page's `total` and the page itself with the caller's state joined, ordered as the
API orders it, by LIMIT/OFFSET (what a hand-written handler would send). The two take turns of BLOCK, so a
change in the machine's load falls on both; the first WARMUP of each are not counted. The table says whether
the API's page is the SQL's page.

It prints p50 and p95 per case for both, and the API's p50 as a multiple of the raw SQL's; asserts nothing.
The issue's targets: the API's p50 at most 15 ms, and page 1,500 no slower than page 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))  # the other benches' helpers beside this file
from load_bench import _free_port, _setup, _wait_scanned, percentile, pg_database
from scan_corpus import ensure_corpus

WORK = Path(__file__).parent / ".work" / "listing"
CORPORA = Path(__file__).parent / ".work" / "scan"  # scan_bench.py's and memory_bench.py's corpora
ALBUMS_PER_ARTIST = 10  # the shape of their large corpus
PER_PAGE = 50
DEEP_PAGE = 1500
WARMUP = 10
BLOCK = 10  # requests in one side's turn
TARGET_P50_MS = 15.0
SAME_WITHIN = 1.1  # a deep page's p50 within this multiple of page 1's counts as no slower
console = Console(width=170)


@dataclass(frozen=True)
class Case:
    name: str
    sort: str
    order: str
    page: int
    where: str = ""  # extra raw SQL condition on media
    params: tuple[tuple[str, str], ...] = ()  # extra API query parameters

    def api_params(self) -> dict[str, Any]:
        return {"sort": self.sort, "order": self.order, "page": self.page, "per_page": PER_PAGE, **dict(self.params)}


COLUMNS = {"title": "title", "artist": "artist", "album": "album", "added_at": "added_at", "duration": "duration_s"}


def cases(items: int) -> list[Case]:
    deep = min(DEEP_PAGE, max(1, items // PER_PAGE - 1))
    out = []
    for sort, order in (("title", "asc"), ("artist", "asc"), ("album", "desc"), ("added_at", "desc"),
                        ("duration", "asc")):
        for page in (1, deep):
            out.append(Case(f"{sort} {order}, page {page}", sort, order, page))
    out.append(Case(f"kind=audio, title asc, page {deep}", "title", "asc", deep, "kind = 'audio'",
                    (("kind", "audio"),)))
    genre_deep = max(1, deep // 7)  # a genre is a seventh of the corpus
    out.append(Case(f"genre=Jazz, title asc, page {genre_deep}", "title", "asc", genre_deep, "genre = 'Jazz'",
                    (("genre", "Jazz"),)))
    return out


def raw_sql(case: Case, dialect: str) -> tuple[str, str]:
    """The count and the page, as a hand-written handler would send them ($1 is the user's id)."""
    where = "media.deleted_at IS NULL" + (f" AND media.{case.where}" if case.where else "")
    column, direction = COLUMNS[case.sort], case.order.upper()
    user = "$1" if dialect == "postgresql" else "?"
    count = f"SELECT count(*) FROM media WHERE {where}"
    page = (f"SELECT media.*, user_media.* FROM media LEFT OUTER JOIN user_media ON user_media.media_id = media.id "
            f"AND user_media.user_id = {user} WHERE {where} "
            f"ORDER BY media.{column} {direction} NULLS LAST, media.id {direction} "
            f"LIMIT {PER_PAGE} OFFSET {(case.page - 1) * PER_PAGE}")
    return count, page


# --- the server ---------------------------------------------------------------------------------------------

@dataclass
class Server:
    base_url: str
    token: str
    database: str  # a path (SQLite) or an asyncpg DSN


@contextlib.contextmanager
def medianest(name: str, library: Path, items: int, database_url: str | None, workers: int) -> Iterator[Server]:
    """`medianest serve` in a fresh data folder on `library`, its start-up scan done, with an admin."""
    WORK.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=WORK))
    port = _free_port()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(root / "data"), "MEDIANEST_MEDIA_DIRS": str(library),
           "MEDIANEST_PORT": str(port), "MEDIANEST_LOG_LEVEL": "WARNING", "MEDIANEST_RATE_LIMITS_ENABLED": "false",
           "MEDIANEST_WORKERS": str(workers)}
    for var in ("MEDIANEST_DATABASE_URL", "MEDIANEST_REDIS_URL"):
        env.pop(var, None)
    if database_url:
        env["MEDIANEST_DATABASE_URL"] = database_url
    log = root / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env, stdout=out, stderr=out)
        try:
            base = f"http://127.0.0.1:{port}"
            token = _setup(base, proc)
            started = time.monotonic()
            _wait_scanned(base, token, items, timeout_s=1800)
            console.print(f"{name}: the start-up scan of {items:,} files took {time.monotonic() - started:.0f} s")
            database = (str(root / "data" / "medianest.db") if database_url is None else
                        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False))
            if database_url is not None:
                asyncio.run(_analyze(database))
            yield Server(base, token, database)
        except Exception:
            console.print(f"[red]{name}: the server failed; the end of its log:[/]\n"
                          + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(root, ignore_errors=True)


async def _analyze(dsn: str) -> None:
    """What autovacuum does soon after a bulk load (here, the scan's 100,000 rows): statistics for the planner
    and the visibility map for index-only scans. A server with autovacuum off (this machine's) never gets
    them, and plans every query, the raw SQL's as well, as for a table of a few rows."""
    conn = await asyncpg.connect(dsn)
    try:
        console.print(f"postgresql: autovacuum {await conn.fetchval('SHOW autovacuum')}; VACUUM ANALYZE after the scan")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# --- measuring ----------------------------------------------------------------------------------------------

class Raw:
    """The raw SQL, straight through the driver, on the server's own database."""

    def __init__(self, dialect: str, database: str) -> None:
        self.dialect, self.database = dialect, database
        self.sqlite: sqlite3.Connection | None = None
        self.pg: asyncpg.Connection | None = None

    async def __aenter__(self) -> Raw:
        if self.dialect == "sqlite":
            self.sqlite = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
            self.sqlite.row_factory = sqlite3.Row
        else:
            self.pg = await asyncpg.connect(self.database)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            await self.pg.close()

    async def page(self, count: str, page: str, user_id: int) -> list[int]:
        """The page's total and rows; the rows' ids."""
        if self.sqlite is not None:
            self.sqlite.execute(count).fetchone()
            return [row["id"] for row in self.sqlite.execute(page, (user_id,)).fetchall()]
        assert self.pg is not None
        await self.pg.fetchval(count)
        return [row["id"] for row in await self.pg.fetch(page, user_id)]


@dataclass
class Result:
    case: Case
    api: list[float]
    raw: list[float]
    total: int
    same: bool  # the API's page is the SQL's page


async def measure(name: str, server: Server, requests: int) -> list[Result]:
    headers = {"Authorization": f"Bearer {server.token}"}
    results = []
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as http, \
            Raw(name, server.database) as raw:
        user_id = int((await http.get("/api/v1/auth/me")).json()["data"]["id"])
        for case in cases(_items(server)):
            count, page = raw_sql(case, name)
            body = (await http.get("/api/v1/media", params=case.api_params())).raise_for_status().json()
            same = [int(item["id"]) for item in body["data"]] == await raw.page(count, page, user_id)
            api_s: list[float] = []
            raw_s: list[float] = []
            # In turns of BLOCK, each side warm in its own turn: right after the other side's deep OFFSET
            # walk, the server's first request ran ~2 ms slower (caches), which is not its own cost.
            while len(api_s) < WARMUP + requests:
                for _ in range(BLOCK):
                    start = time.perf_counter()
                    (await http.get("/api/v1/media", params=case.api_params())).raise_for_status()
                    api_s.append(time.perf_counter() - start)
                for _ in range(BLOCK):
                    start = time.perf_counter()
                    await raw.page(count, page, user_id)
                    raw_s.append(time.perf_counter() - start)
            results.append(Result(case, sorted(api_s[WARMUP:]), sorted(raw_s[WARMUP:]), body["meta"]["total"], same))
    return results


def _items(server: Server) -> int:
    r = httpx.get(f"{server.base_url}/api/v1/media", params={"per_page": 1},
                  headers={"Authorization": f"Bearer {server.token}"})
    return int(r.json()["meta"]["total"])


# --- the table ----------------------------------------------------------------------------------------------

def report(runs: list[tuple[str, list[Result]]], args: argparse.Namespace) -> None:
    table = Table(title=f"GET /api/v1/media at {args.items:,} items, {PER_PAGE} a page, one request at a time "
                        f"({args.requests} each; raw SQL = count + LIMIT/OFFSET page through the driver)")
    for col in ("database", "case", "total", "same page", "API p50 ms", "API p95 ms", "raw p50 ms", "raw p95 ms",
                "API/raw p50"):
        table.add_column(col, justify="left" if col in ("database", "case", "same page") else "right")
    for database, results in runs:
        for res in results:
            api50, raw50 = percentile(res.api, 50), percentile(res.raw, 50)
            table.add_row(database, res.case.name, f"{res.total:,}", "yes" if res.same else "[red]NO[/]",
                          _ms(api50), _ms(percentile(res.api, 95)),
                          _ms(raw50), _ms(percentile(res.raw, 95)), f"{api50 / raw50:.2f}x")
        table.add_section()
    console.print(table)
    for database, results in runs:
        by_name = {r.case.name: r for r in results}
        worst = max(percentile(r.api, 50) for r in results) * 1000
        verdict = "[green]met[/]" if worst <= TARGET_P50_MS else "[red]missed[/]"
        console.print(f"{database}: the slowest case's API p50 {worst:.1f} ms; target {TARGET_P50_MS:g} ms {verdict}")
        for r in results:
            if r.case.page == 1:
                deep = next((d for n, d in by_name.items() if n.startswith(r.case.name[:-len("page 1")])
                             and d.case.page != 1), None)
                if deep is not None:
                    first, last = percentile(r.api, 50) * 1000, percentile(deep.api, 50) * 1000
                    # Within a tenth: about what two runs of one case differ by on this shared 2-core machine.
                    mark = "[green]no slower[/]" if last <= first * SAME_WITHIN else "[red]slower[/]"
                    console.print(f"  {r.case.sort} {r.case.order}: page 1 {first:.1f} ms, page {deep.case.page} "
                                  f"{last:.1f} ms ({last / first:.2f}x): {mark}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# --- main ---------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def database_for(name: str, args: argparse.Namespace) -> Iterator[str | None]:
    if name == "sqlite":
        yield None
    else:
        with pg_database(args.pg_url) as url:
            yield url


def each_server(args: argparse.Namespace) -> Iterator[tuple[str, Server]]:
    """A server on the --items corpus for each of --databases, the load average printed around its use
    (subsonic_bench.py runs on these too)."""
    corpus = ensure_corpus(CORPORA / f"library-{args.items}", args.items, ALBUMS_PER_ARTIST)
    for name in args.databases.split(","):
        workers = 1 if name == "sqlite" else args.workers_pg
        with database_for(name, args) as url, medianest(name, corpus, args.items, url, workers) as server:
            before = os.getloadavg()[0]
            yield name, server
            console.print(f"{name}: load average {before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def run(args: argparse.Namespace) -> None:
    runs = [(name, asyncio.run(measure(name, server, args.requests))) for name, server in each_server(args)]
    report(runs, args)


def arguments(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="files in the generated library")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per case")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--workers-pg", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--pg-url", default=os.environ.get("MEDIANEST_BENCH_PG_URL",
                                                           "postgresql+asyncpg://postgres@127.0.0.1:5432/"))
    return parser


def main() -> None:
    run(arguments(__doc__ or "").parse_args())


if __name__ == "__main__":
    main()
