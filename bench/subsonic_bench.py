"""Subsonic benchmark: what a music app does to a large library, through a real `medianest serve`, against the raw
SQL of the same answers on the same database in the same run, on SQLite and on PostgreSQL.

    python3 run.py python bench/subsonic_bench.py [--items 100000] [--requests 200]
                                                  [--databases sqlite,postgresql] [--workers-pg 2]

The library is bench/scan_corpus.py's generated one (--items tagged mp3s, ten to an album; the corpus the scan,
memory and listing benchmarks use, reused when built), indexed by the server's start-up scan. Then, one request
at a time, as an app signed in with token auth (u, t, s) asking for JSON:

- sync: search3 with an empty query (`query=""`, as Symfonium sends it) in pages of 500 songs, from offset 0 to
  the end, as Symfonium and Substreamer sync a library. Timed: the whole sync; then its first page and its
  last asked again REPEAT times each, alternately, and compared by their medians (one request of each is
  noise on a busy machine; with several server processes, a page is often asked of one that did not serve
  the page before).
  The raw SQL is the same walk through the driver, keyset (`id > last`, the user's state joined) — and for
  reference the OFFSET walk a hand-written handler would do, whose last page costs far more than its first.
- getAlbumList2 alphabeticalByName, 50 albums a page at offsets spread over all albums; raw: the page from
  the albums table by its sort index.
- search3 for a word (an artist's name, an album's number, a title word) with the default 20 of each; raw: the
  same full-text match (FTS5 on SQLite, tsvector on PostgreSQL), best first, LIMIT 20.

The first WARMUP requests of each case are not counted. It prints p50/p95 per case for both, and the API's p50
as a multiple of the raw SQL's; asserts nothing. The issue's targets: the whole sync at most 15 s with its last
page no slower than its first; getAlbumList2 p50 at most 20 ms; a word search p50 at most 15 ms.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))  # the other benches' helpers beside this file
from listing_bench import Raw as ListingRaw
from listing_bench import Server, arguments, each_server
from load_bench import percentile

PASSWORD = "bench-subsonic-pw"
SYNC_PAGE = 500
ALBUM_PAGE = 50
WARMUP = 10
REPEAT = 7  # the first and the last page of the sync, asked again
WORDS = ("Artist 042", "0420", "Song 01234", "Album 0007", "ñ 777", "Jazz 1971")
TARGETS = {"sync": 15.0, "albums": 0.020, "search": 0.015}
console = Console(width=170)


# --- the raw SQL, straight through the driver ----------------------------------------------------------------

SONGS_KEYSET = """SELECT m.id, m.*, s.* FROM media m LEFT JOIN user_media s ON s.media_id = m.id AND s.user_id = {user}
 WHERE m.deleted_at IS NULL AND m.kind = 'audio' AND m.id > {after} ORDER BY m.id LIMIT {n}"""
SONGS_OFFSET = """SELECT m.id, m.*, s.* FROM media m LEFT JOIN user_media s ON s.media_id = m.id AND s.user_id = {user}
 WHERE m.deleted_at IS NULL AND m.kind = 'audio' ORDER BY m.id LIMIT {n} OFFSET {offset}"""
ALBUMS = "SELECT * FROM albums ORDER BY sort_name, id LIMIT {n} OFFSET {offset}"
SEARCH_SQLITE = """SELECT m.* FROM media m JOIN media_fts f ON f.rowid = m.id WHERE media_fts MATCH '{match}'
 AND m.deleted_at IS NULL AND m.kind = 'audio' ORDER BY f.rank, m.id LIMIT 20"""
SEARCH_PG = """SELECT m.* FROM media m WHERE to_tsvector('simple', m.search_text) @@ to_tsquery('simple', '{match}')
 AND m.deleted_at IS NULL AND m.kind = 'audio'
 ORDER BY ts_rank(to_tsvector('simple', m.search_text), to_tsquery('simple', '{match}')) DESC, m.id LIMIT 20"""


class Raw(ListingRaw):
    """listing_bench's connection to the server's database, with the queries of this benchmark."""

    async def rows(self, sql: str) -> list[Any]:
        if self.sqlite is not None:
            return self.sqlite.execute(sql).fetchall()
        assert self.pg is not None
        return list(await self.pg.fetch(sql))

    def search(self, query: str) -> str:
        words = [w.lower() for w in query.replace("ñ", "n").split()]
        if self.dialect == "sqlite":
            return SEARCH_SQLITE.format(match=" ".join(f'"{w}"*' for w in words))
        return SEARCH_PG.format(match=" & ".join(f"{w}:*" for w in words))


# --- the app's side -------------------------------------------------------------------------------------------

def _auth() -> dict[str, str]:
    salt = secrets.token_hex(8)
    token = hashlib.md5((PASSWORD + salt).encode(), usedforsecurity=False).hexdigest()
    return {"u": "admin", "t": token, "s": salt, "v": "1.16.1", "c": "bench", "f": "json"}


async def call(http: httpx.AsyncClient, endpoint: str, **params: Any) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    r = await http.get(f"/rest/{endpoint}", params={**_auth(), **params})
    took = time.perf_counter() - start
    body = r.json()["subsonic-response"]
    if body["status"] != "ok":
        raise RuntimeError(f"{endpoint}: {body}")
    return took, body


@dataclass
class Sync:
    pages: list[float] = field(default_factory=list)
    total_s: float = 0.0
    songs: int = 0
    first: list[float] = field(default_factory=list)  # the first page, asked again; the raw walks' only page
    last: list[float] = field(default_factory=list)

    def ends(self) -> tuple[float, float]:
        """The first and the last page's times: medians of the repeats, or the walk's own pages."""
        if self.first and self.last:
            return percentile(sorted(self.first), 50), percentile(sorted(self.last), 50)
        return self.pages[0], self.pages[-1]


async def api_sync(http: httpx.AsyncClient) -> Sync:
    out, offset, seen = Sync(), 0, set()
    start = time.perf_counter()
    while True:
        took, body = await call(http, "search3", query='""', songCount=SYNC_PAGE, songOffset=offset,
                                artistCount=0, albumCount=0)
        songs = body["searchResult3"].get("song", [])
        if not songs:
            break
        out.pages.append(took)
        seen.update(s["id"] for s in songs)
        offset += len(songs)
    out.total_s, out.songs = time.perf_counter() - start, len(seen)
    if out.songs != offset:
        raise RuntimeError(f"the sync saw {out.songs} distinct songs in {offset} rows: pages overlapped")
    last_offset = offset - (offset % SYNC_PAGE or SYNC_PAGE)
    for _ in range(REPEAT):
        for offset_now, times in ((0, out.first), (last_offset, out.last)):
            took, _ = await call(http, "search3", query='""', songCount=SYNC_PAGE, songOffset=offset_now,
                                 artistCount=0, albumCount=0)
            times.append(took)
    return out


async def raw_sync(raw: Raw, user_id: int, keyset: bool) -> Sync:
    out, after, offset = Sync(), 0, 0
    start = time.perf_counter()
    while True:
        sql = (SONGS_KEYSET.format(user=user_id, after=after, n=SYNC_PAGE) if keyset else
               SONGS_OFFSET.format(user=user_id, n=SYNC_PAGE, offset=offset))
        t0 = time.perf_counter()
        rows = await raw.rows(sql)
        if not rows:
            break
        out.pages.append(time.perf_counter() - t0)
        after, offset = rows[-1][0], offset + len(rows)
    out.total_s, out.songs = time.perf_counter() - start, offset
    return out


@dataclass
class Case:
    name: str
    api: list[float]
    raw: list[float]


async def albums_case(http: httpx.AsyncClient, raw: Raw, requests: int) -> Case:
    albums = len(await raw.rows("SELECT id FROM albums"))
    offsets = [random.Random(n).randrange(0, max(1, albums - ALBUM_PAGE)) for n in range(WARMUP + requests)]
    api, sql = [], []
    for n, offset in enumerate(offsets):
        took, body = await call(http, "getAlbumList2", type="alphabeticalByName", size=ALBUM_PAGE, offset=offset)
        t0 = time.perf_counter()
        rows = await raw.rows(ALBUMS.format(n=ALBUM_PAGE, offset=offset))
        raw_took = time.perf_counter() - t0
        if len(rows) != len(body["albumList2"]["album"]):
            raise RuntimeError(f"getAlbumList2 at {offset}: {len(body['albumList2']['album'])} albums, SQL {len(rows)}")
        if n >= WARMUP:
            api.append(took)
            sql.append(raw_took)
    return Case(f"getAlbumList2 alphabeticalByName, {ALBUM_PAGE} of {albums:,} albums", sorted(api), sorted(sql))


async def search_case(http: httpx.AsyncClient, raw: Raw, requests: int) -> Case:
    api, sql = [], []
    for n in range(WARMUP + requests):
        word = WORDS[n % len(WORDS)]
        took, _ = await call(http, "search3", query=word)
        t0 = time.perf_counter()
        await raw.rows(raw.search(word))
        if n >= WARMUP:
            api.append(took)
            sql.append(time.perf_counter() - t0)
    return Case(f"search3 for a word ({len(WORDS)} queries), 20 of each kind", sorted(api), sorted(sql))


@dataclass
class Run:
    database: str
    sync: Sync
    raw_keyset: Sync
    raw_offset: Sync
    cases: list[Case]


async def measure(name: str, server: Server, requests: int) -> Run:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http, Raw(name, server.database) as raw:
        r = await http.post("/api/v1/auth/subsonic-password", json={"password": PASSWORD}, headers=headers)
        r.raise_for_status()
        me = (await http.get("/api/v1/auth/me", headers=headers)).json()["data"]
        user_id = int(me["id"])
        await api_sync(http)  # warm: the first walk fills caches on both sides
        sync = await api_sync(http)
        keyset, offset = await raw_sync(raw, user_id, True), await raw_sync(raw, user_id, False)
        cases = [await albums_case(http, raw, requests), await search_case(http, raw, requests)]
    return Run(name, sync, keyset, offset, cases)


# --- the table --------------------------------------------------------------------------------------------------

def report(runs: list[Run], items: int) -> None:
    table = Table(title=f"Subsonic at {items:,} tracks, one request at a time (token auth, JSON); raw = the same "
                        "answer's SQL through the driver")
    for col in ("database", "case", "API", "raw SQL", "API/raw"):
        table.add_column(col, justify="left" if col in ("database", "case") else "right")
    for run in runs:
        s, k, o = run.sync, run.raw_keyset, run.raw_offset
        table.add_row(run.database, f"sync: search3 \"\" in pages of {SYNC_PAGE}, {s.songs:,} songs, whole walk",
                      f"{s.total_s:.2f} s", f"{k.total_s:.2f} s", f"{s.total_s / k.total_s:.1f}x")
        (first, last), (raw_first, raw_last) = s.ends(), k.ends()
        table.add_row("", f"  first page (API: median of {REPEAT})", _ms(first), _ms(raw_first), "")
        table.add_row("", f"  last page (API: median of {REPEAT})", _ms(last), _ms(raw_last), "")
        table.add_row("", "  raw OFFSET walk for reference: whole / first / last page", "",
                      f"{o.total_s:.2f} s / {_ms(o.pages[0])} / {_ms(o.pages[-1])}", "")
        for case in run.cases:
            api50, raw50 = percentile(case.api, 50), percentile(case.raw, 50)
            table.add_row("", f"{case.name}: p50 (p95)", f"{_ms(api50)} ({_ms(percentile(case.api, 95))})",
                          f"{_ms(raw50)} ({_ms(percentile(case.raw, 95))})", f"{api50 / raw50:.1f}x")
        table.add_section()
    console.print(table)
    for run in runs:
        _verdicts(run)


def _verdicts(run: Run) -> None:
    s = run.sync
    first, last = s.ends()
    last_ok = last <= first * 1.25 or last <= 0.005
    met = _mark(s.total_s <= TARGETS["sync"])
    console.print(f"{run.database}: sync {s.total_s:.1f} s (target {TARGETS['sync']:g} s) {met}; "
                  f"last page {_ms(last)} ms vs first {_ms(first)} ms {_mark(last_ok)}")
    albums, search = (percentile(c.api, 50) for c in run.cases)
    console.print(f"  getAlbumList2 p50 {_ms(albums)} ms (target 20) {_mark(albums <= TARGETS['albums'])}; "
                  f"search3 word p50 {_ms(search)} ms (target 15) {_mark(search <= TARGETS['search'])}")


def _mark(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]missed[/]"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> None:
    args = arguments(__doc__ or "").parse_args()
    report([asyncio.run(measure(name, server, args.requests)) for name, server in each_server(args)], args.items)


if __name__ == "__main__":
    main()
