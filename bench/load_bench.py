"""Mixed load benchmark: concurrent users reading and writing through a real `medianest serve`, on SQLite and
on PostgreSQL (the peer) in the same run.

    uv run python bench/load_bench.py [--seconds 60] [--clients 20] [--items 2000] [--think-ms 0]
                                      [--databases sqlite,postgresql] [--import-entries 10000] [--by-op]

For each database a fresh server starts (its own data folder; on PostgreSQL a database created for the run
at --pg-url and dropped after) on a generated library of --items tagged mp3s (bench/scan_corpus.py), waits
for its start-up scan, and gets --clients users, each with a playlist. Then --clients asyncio tasks, one
httpx client and one user each, send requests back to back (after --think-ms of think time, if any) for
--seconds: reads (media pages, searches, one item, playlists, a playlist, history, a resume point) and
writes (resume points, plays, likes, playlist item adds and removes), with a sign-in now and then. Sign-ins
cost an Argon2 hash by design, so they are their own row. Rate limits are off. The first WARMUP_S seconds
are not counted.

With --import-entries N, one more user imports an N-entry M3U8 playlist a quarter of the way in; the
table then also shows the other users' writes and sign-ins that started while the import ran.

It prints a table of count, errors by status, p50/p95/p99/max per database, and asserts nothing. The
machine's load average is printed with each run: other work on the machine only ever adds latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))  # scan_corpus beside this file
from scan_corpus import ensure_corpus

WORK = Path(__file__).parent / ".work" / "load"
PASSWORD = "bench-password-123"
ALBUMS_PER_ARTIST = 4
WARMUP_S = 3.0
TARGET_WRITE_P99_S = 0.25  # the target for writes on SQLite
console = Console(width=160)


# --- the servers -------------------------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    base_url: str
    admin: str  # the admin's access token
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    """A database created for this run on the PostgreSQL at `server_url`, dropped on the way out."""
    url = make_url(server_url)
    name = f"medianest_load_{secrets.token_hex(4)}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def medianest(name: str, library: Path, items: int, database_url: str | None) -> Iterator[Server]:
    """`medianest serve` in a fresh data folder on `library`, scanned, with an admin; stopped on exit."""
    WORK.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=WORK))
    port = _free_port()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(root / "data"), "MEDIANEST_MEDIA_DIRS": str(library),
           "MEDIANEST_PORT": str(port), "MEDIANEST_LOG_LEVEL": "WARNING", "MEDIANEST_RATE_LIMITS_ENABLED": "false"}
    for var in ("MEDIANEST_DATABASE_URL", "MEDIANEST_REDIS_URL", "MEDIANEST_WORKERS"):
        env.pop(var, None)
    if database_url:
        env["MEDIANEST_DATABASE_URL"] = database_url
    log = root / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env, stdout=out, stderr=out)
        try:
            base = f"http://127.0.0.1:{port}"
            admin = _setup(base, proc)
            _wait_scanned(base, admin, items)
            yield Server(name, base, admin, proc, log)
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


def _setup(base: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"medianest serve exited with {proc.returncode}")
        try:
            r = httpx.post(f"{base}/api/v1/auth/setup", json={"username": "admin", "password": PASSWORD})
            r.raise_for_status()
            return str(r.json()["data"]["access_token"])
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("medianest serve did not start")


def _wait_scanned(base: str, admin: str, items: int, timeout_s: float = 600) -> None:
    """The start-up scan (scan 1) has finished and indexed the whole library."""
    headers = {"Authorization": f"Bearer {admin}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        scan = httpx.get(f"{base}/api/v1/library/scans/1", headers=headers)
        if scan.status_code == 200 and scan.json()["data"]["status"] not in ("queued", "running"):
            total = httpx.get(f"{base}/api/v1/media", params={"per_page": 1}, headers=headers).json()["meta"]["total"]
            if total < items:
                raise RuntimeError(f"the start-up scan indexed {total} of {items} files")
            return
        time.sleep(0.5)
    raise RuntimeError("the start-up scan did not finish")


# --- the users and what they do ----------------------------------------------------------------------------

@dataclass
class Sample:
    kind: str  # read | write | login
    op: str
    started: float  # seconds since the load started
    seconds: float
    status: str  # the HTTP status, or the transport error's name


@dataclass
class User:
    name: str
    token: str
    playlist: str
    items: list[str] = field(default_factory=list)  # playlist item ids this user added


@dataclass
class Library:
    media_ids: list[str]
    words: list[str]  # search terms that find something
    paths: list[str]  # absolute file paths, for the M3U8 import


async def make_users(http: httpx.AsyncClient, admin: str, count: int) -> list[User]:
    async def one(n: int) -> User:
        name = f"user{n:02d}"
        r = await http.post("/api/v1/users", json={"username": name, "password": PASSWORD},
                            headers={"Authorization": f"Bearer {admin}"})
        r.raise_for_status()
        token = await login(http, name)
        r = await http.post("/api/v1/playlists", json={"name": f"{name}'s list"}, headers=_bearer(token))
        r.raise_for_status()
        return User(name, token, r.json()["data"]["id"])

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def login(http: httpx.AsyncClient, name: str) -> str:
    r = await http.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["data"]["access_token"])


async def read_library(http: httpx.AsyncClient, admin: str, corpus: Path) -> Library:
    ids: list[str] = []
    page = 1
    while True:
        r = await http.get("/api/v1/media", params={"page": page, "per_page": 100}, headers=_bearer(admin))
        ids += [m["id"] for m in r.json()["data"]]
        if not r.json()["meta"]["has_more"]:
            break
        page += 1
    artists = sorted({p.parent.parent.name for p in corpus.rglob("*.mp3")})
    words = artists[:50] + [f"Song {n:05d}" for n in range(0, len(ids), max(1, len(ids) // 50))]
    paths = sorted(str(p.resolve()) for p in corpus.rglob("*.mp3"))
    return Library(ids, words, paths)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


Op = Callable[[httpx.AsyncClient, User, Library], Awaitable[httpx.Response]]


async def media_page(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    pages = max(1, len(lib.media_ids) // 50)
    sort = random.choice(["title", "artist", "added_at", "play_count"])
    return await http.get("/api/v1/media", params={"page": random.randint(1, pages), "sort": sort},
                          headers=_bearer(u.token))


async def search(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.get("/api/v1/media", params={"q": random.choice(lib.words), "per_page": 20},
                          headers=_bearer(u.token))


async def media_item(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.get(f"/api/v1/media/{random.choice(lib.media_ids)}", headers=_bearer(u.token))


async def playlists(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.get("/api/v1/playlists", headers=_bearer(u.token))


async def playlist(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.get(f"/api/v1/playlists/{u.playlist}", headers=_bearer(u.token))


async def history(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.get("/api/v1/me/history", params={"per_page": 20}, headers=_bearer(u.token))


async def get_progress(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.get(f"/api/v1/media/{random.choice(lib.media_ids)}/progress", headers=_bearer(u.token))


async def put_progress(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.put(f"/api/v1/media/{random.choice(lib.media_ids)}/progress",
                          json={"position_s": round(random.uniform(0, 1.5), 2)}, headers=_bearer(u.token))


async def play(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.post(f"/api/v1/media/{random.choice(lib.media_ids)}/plays",
                           json={"position_s": 1.0, "listened_s": 1.0, "completed": random.random() < 0.5},
                           headers=_bearer(u.token))


async def like(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    method = http.put if random.random() < 0.6 else http.delete
    return await method(f"/api/v1/media/{random.choice(lib.media_ids)}/like", headers=_bearer(u.token))


async def playlist_edit(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    """Adds an item, or (when the list has a few) removes one of those it added."""
    if len(u.items) > 5 and random.random() < 0.5:
        item = u.items.pop(random.randrange(len(u.items)))
        return await http.delete(f"/api/v1/playlists/{u.playlist}/items/{item}", headers=_bearer(u.token))
    r = await http.post(f"/api/v1/playlists/{u.playlist}/items", json={"media_id": random.choice(lib.media_ids)},
                        headers=_bearer(u.token))
    if r.status_code == 201:  # the answer is the playlist; the new item is at its end
        u.items.append(r.json()["data"]["items"][-1]["id"])
    return r


async def sign_in(http: httpx.AsyncClient, u: User, lib: Library) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"username": u.name, "password": PASSWORD})


# (kind, op, weight): about half reads, and one request in fifty a sign-in.
MIX: list[tuple[str, Op, int]] = [
    ("read", media_page, 12), ("read", search, 10), ("read", media_item, 10), ("read", playlists, 5),
    ("read", playlist, 5), ("read", history, 5), ("read", get_progress, 3),
    ("write", put_progress, 20), ("write", play, 10), ("write", like, 8), ("write", playlist_edit, 10),
    ("login", sign_in, 2),
]
OK = {200, 201, 204}


async def client(base: str, user: User, lib: Library, t0: float, end: float, think_s: float,
                 samples: list[Sample]) -> None:
    weights = [w for _, _, w in MIX]
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        while time.perf_counter() < end:
            kind, op, _ = random.choices(MIX, weights)[0]
            start = time.perf_counter()
            name = op.__name__
            try:
                r = await op(http, user, lib)
                status, name = str(r.status_code), f"{name} ({r.request.method})"
            except httpx.TransportError as exc:
                status = type(exc).__name__
            samples.append(Sample(kind, name, start - t0, time.perf_counter() - start, status))
            if think_s:
                await asyncio.sleep(random.uniform(0, 2 * think_s))


@dataclass
class Import:
    started: float = 0.0
    seconds: float = 0.0
    status: str = "not run"
    matched: int = 0


def m3u8(paths: list[str], entries: int) -> str:
    lines = ["#EXTM3U", "#PLAYLIST:load bench import"]
    for n in range(entries):
        path = paths[n % len(paths)]
        lines += [f"#EXTINF:2,{Path(path).parent.parent.name} - {Path(path).stem}", path]
    return "\n".join(lines) + "\n"


async def run_import(base: str, token: str, body: str, t0: float, at_s: float, result: Import) -> None:
    await asyncio.sleep(max(0.0, t0 + at_s - time.perf_counter()))
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        result.started = time.perf_counter() - t0
        try:
            r = await http.post("/api/v1/playlists/import", content=body.encode(),
                                headers={**_bearer(token), "Content-Type": "audio/x-mpegurl"})
            result.status = str(r.status_code)
            if r.status_code == 201:
                result.matched = r.json()["data"]["matched"]
        except httpx.TransportError as exc:
            result.status = type(exc).__name__
        result.seconds = time.perf_counter() - t0 - result.started


async def load(server: Server, corpus: Path, args: argparse.Namespace) -> tuple[list[Sample], Import]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
        users = await make_users(http, server.admin, args.clients + 1)
        lib = await read_library(http, server.admin, corpus)
    importer, users = users[-1], users[:-1]
    samples: list[Sample] = []
    result = Import()
    t0 = time.perf_counter()
    end = t0 + WARMUP_S + args.seconds
    tasks = [client(server.base_url, u, lib, t0, end, args.think_ms / 1000, samples) for u in users]
    if args.import_entries:
        body = m3u8(lib.paths, args.import_entries)
        tasks.append(run_import(server.base_url, importer.token, body, t0, WARMUP_S + args.seconds / 4, result))
    await asyncio.gather(*tasks)
    return [s for s in samples if s.started >= WARMUP_S], result


# --- the table ---------------------------------------------------------------------------------------------

def percentile(sorted_s: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_s[min(len(sorted_s) - 1, max(0, round(p / 100 * len(sorted_s) + 0.5) - 1))]


def row(table: Table, database: str, what: str, samples: list[Sample], seconds: float) -> None:
    if not samples:
        table.add_row(database, what, "0", "", "", "", "", "", "", "")
        return
    times = sorted(s.seconds for s in samples)
    errors = Counter(s.status for s in samples if not s.status.isdigit() or int(s.status) not in OK)
    shown = ", ".join(f"{code}×{n}" for code, n in sorted(errors.items())) or "0"
    ms = [f"{percentile(times, p) * 1000:.0f}" for p in (50, 95, 99)] + [f"{times[-1] * 1000:.0f}"]
    table.add_row(database, what, str(len(samples)), f"{len(samples) / seconds:.0f}", shown, *ms)


def report(results: list[tuple[str, list[Sample], Import]], args: argparse.Namespace) -> None:
    table = Table(title=f"{args.clients} clients, {args.seconds:g} s of mixed load, {args.items} items "
                        f"(think time {args.think_ms:g} ms){'' if not args.import_entries else ', with an import'}")
    for col in ("database", "requests", "count", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col in ("database", "requests", "errors") else "right")
    for database, samples, imported in results:
        for kind in ("read", "write", "login"):
            row(table, database, kind + "s", [s for s in samples if s.kind == kind], args.seconds)
        if imported.status != "not run":
            during = [s for s in samples if imported.started <= s.started <= imported.started + imported.seconds]
            for kind in ("write", "login"):
                row(table, database, f"{kind}s during the import", [s for s in during if s.kind == kind],
                    max(imported.seconds, 1e-9))
            table.add_row(database, f"the import ({args.import_entries} entries)", "1", "", _import_note(imported),
                          "", "", "", f"{imported.seconds * 1000:.0f}")
        if args.by_op:
            for op in sorted({s.op for s in samples}):
                row(table, database, f"  {op}", [s for s in samples if s.op == op], args.seconds)
        table.add_section()
    console.print(table)
    for database, samples, _ in results:
        if database.startswith("sqlite"):
            writes = sorted(s.seconds for s in samples if s.kind == "write")
            if writes:
                p99 = percentile(writes, 99)
                verdict = "[green]met[/]" if p99 <= TARGET_WRITE_P99_S else "[red]missed[/]"
                console.print(f"{database}: write p99 {p99 * 1000:.0f} ms; target "
                              f"{TARGET_WRITE_P99_S * 1000:.0f} ms {verdict}")


def _import_note(imported: Import) -> str:
    return f"{imported.status} ({imported.matched} matched)" if imported.status == "201" else imported.status


# --- main --------------------------------------------------------------------------------------------------

async def measure(name: str, server: Server, corpus: Path, args: argparse.Namespace,
                  ) -> tuple[str, list[Sample], Import]:
    before = os.getloadavg()[0]
    samples, imported = await load(server, corpus, args)
    console.print(f"{name}: {len(samples)} requests; load average {before:.1f} → {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} cores")
    return name, samples, imported


@contextlib.contextmanager
def database_for(name: str, args: argparse.Namespace) -> Iterator[str | None]:
    if name == "sqlite":
        yield None
    else:
        with pg_database(args.pg_url) as url:
            yield url


def run(args: argparse.Namespace) -> None:
    corpus = ensure_corpus(WORK / f"library-{args.items}", args.items, ALBUMS_PER_ARTIST)
    results = []
    for name in args.databases.split(","):
        # Each load runs in its own event loop; the servers and databases around it are set up without one.
        with database_for(name, args) as url, medianest(name, corpus, args.items, url) as server:
            results.append(asyncio.run(measure(name, server, corpus, args)))
    report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the measured load runs")
    parser.add_argument("--clients", type=int, default=20, help="concurrent users")
    parser.add_argument("--items", type=int, default=2000, help="files in the generated library")
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause between a client's requests")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("MEDIANEST_BENCH_PG_URL",
                                                           "postgresql+asyncpg://postgres@127.0.0.1:5432/"))
    parser.add_argument("--import-entries", type=int, default=0, help="also import an M3U8 of this many entries")
    parser.add_argument("--by-op", action="store_true", help="also one row per operation")
    args = parser.parse_args()
    run(args)


if __name__ == "__main__":
    main()
