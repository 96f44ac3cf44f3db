"""Library scan benchmark: MediaNest's Scanner against a plain mutagen loop, beets and a plain walk.

    uv run python bench/scan_bench.py [--first 1000] [--rescan 10000] [--repeat 5] [--no-beets]

First scan: N fresh tagged mp3s read by (1) os.walk + mutagen.File (the baseline: the least work that
still reads every tag), (2) MediaNest's Scanner into a fresh, migrated SQLite DB (migration not timed;
walk, probe, artwork and DB writes timed), (3) `beet import -A -C -q` into a fresh beets library
(beets lives in its own venv under bench/.work; its start-up is inside its time and shown apart).
No-change rescan: 10x more files, indexed by an untimed scan, then rescanned on that same engine (as
the server does) against an os.scandir walk that stats every file.

The machine is shared and noisy, so the tools take turns within each round and the best round counts
(noise only ever adds time; beets, at ~20 s a round, runs in the first three rounds only). The CPU
columns (all threads, or beets' child process) are the steadier cross-check: on a busy machine wall
times swing 2-3x between rounds. Files are in the page cache for every tool alike. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mutagen
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))  # the scan_* helpers beside this file

import scan_beets
from scan_corpus import ensure_corpus

from medianest.db.engine import create_engine, create_session_factory
from medianest.db.migrate import upgrade
from medianest.library.scanner import Scanner, ScanStats

WORK = Path(__file__).parent / ".work" / "scan"
FIRST_TARGET = 0.5  # MediaNest's first scan: at least half the plain loop's files/s
RESCAN_TARGET = 2.0  # a no-change rescan: at most twice the plain walk's time
RESCAN_ROUNDS = 4  # rescans are short, so they get this many times --repeat rounds
BEETS_ROUNDS = 3  # beets takes ~20 s a round, so it runs in the first three rounds only
console = Console(width=200)  # wide enough for the table even when piped to a file


@dataclass
class Timing:
    seconds: float
    cpu: float
    files: int


@dataclass
class Row:
    test: str
    tool: str
    runs: list[Timing]  # empty: the tool could not run
    note: str = ""

    @property
    def best(self) -> Timing | None:
        """The fastest run: noise from other processes only ever adds time."""
        return min(self.runs, key=lambda t: t.seconds) if self.runs else None

    @property
    def least_cpu(self) -> float:
        return min(t.cpu for t in self.runs)


def clock(fn: Callable[[], int]) -> Timing:
    start, cpu = time.perf_counter(), time.process_time()
    files = fn()
    return Timing(time.perf_counter() - start, time.process_time() - cpu, files)


# --- the baselines -------------------------------------------------------------------------------

def mutagen_loop(root: Path) -> int:
    """The baseline first scan: every file's tags and stream info, nothing stored."""
    read = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".mp3"):
                read += mutagen.File(os.path.join(folder, name)) is not None
    return read


def plain_walk(root: Path) -> int:
    """The baseline rescan: list every folder and stat every file, as a rescan must."""
    seen, stack = 0, [str(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    seen += 1
    return seen


# --- MediaNest -----------------------------------------------------------------------------------

def fresh_db(name: str) -> tuple[str, Path]:
    """A migrated, empty SQLite DB and an empty artwork folder (the migration is not timed)."""
    home = WORK / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{home / 'medianest.db'}"
    upgrade(url)
    return url, home / "artwork"


async def timed_scan(scanner: Scanner) -> tuple[Timing, ScanStats]:
    start, cpu = time.perf_counter(), time.process_time()
    stats = await scanner.run()
    return Timing(time.perf_counter() - start, time.process_time() - cpu, stats.added + stats.unchanged), stats


async def _first(url: str, root: Path, artwork_dir: Path, expected: int) -> Timing:
    engine = create_engine(url)
    try:
        timing, stats = await timed_scan(Scanner(create_session_factory(engine), [root], artwork_dir))
        _check(stats, added=expected)
        return timing
    finally:
        await engine.dispose()


def medianest_first(root: Path, expected: int) -> Timing:
    url, artwork_dir = fresh_db("medianest-first")
    return asyncio.run(_first(url, root, artwork_dir, expected))


async def _rescans(url: str, root: Path, artwork_dir: Path, expected: int, rounds: int) -> list[list[Timing]]:
    engine = create_engine(url)
    try:
        scanner = Scanner(create_session_factory(engine), [root], artwork_dir)
        await scanner.run()  # the indexing scan, not timed
        plain_walk(root)  # both start with the folders in the dentry cache
        walks, scans = [], []
        for _ in range(rounds):
            walks.append(clock(lambda: plain_walk(root)))
            timing, stats = await timed_scan(scanner)
            _check(stats, unchanged=expected)
            scans.append(timing)
        return [walks, scans]
    finally:
        await engine.dispose()


def _check(stats: ScanStats, **want: int) -> None:
    """A fast scan that indexed the wrong thing is no result: say so loudly (but keep going)."""
    got = stats.as_dict()
    if any(got[k] != v for k, v in want.items()) or stats.failed or stats.removed:
        console.print(f"[red]unexpected scan result {got}, wanted {want}[/red]")


# --- beets ---------------------------------------------------------------------------------------

def beets_ready(with_beets: bool) -> tuple[Path | None, str]:
    """The `beet` executable, or None and why not."""
    if not with_beets:
        return None, "skipped (--no-beets)"
    try:
        return scan_beets.install(WORK.parent), ""
    except scan_beets.BeetsUnavailable as exc:
        console.print(f"[yellow]beets could not be installed, continuing without it: {exc}[/yellow]")
        return None, "could not be installed"


def beets_first(beet: Path, root: Path) -> Timing:
    seconds, cpu, items = scan_beets.first_import(beet, WORK / "beets", root)
    return Timing(seconds, cpu, items)


# --- the two tests -------------------------------------------------------------------------------

def first_scan(root: Path, count: int, repeat: int, with_beets: bool) -> list[Row]:
    beet, beets_note = beets_ready(with_beets)
    mutagen_loop(root)  # warm the page cache and imports so the first tool timed is not penalised
    base: list[Timing] = []
    ours: list[Timing] = []
    theirs: list[Timing] = []
    for round_no in range(repeat):
        console.print(f"first scan, round {round_no + 1} of {repeat}...")
        base.append(clock(lambda: mutagen_loop(root)))
        ours.append(medianest_first(root, count))
        if beet is not None and round_no < BEETS_ROUNDS:
            beet, beets_note = _beets_round(beet, root, theirs)
    if beet is not None and not beets_note:
        startup = scan_beets.startup_seconds(beet, WORK / "beets-version")
        beets_note = f"best of {len(theirs)}; incl. {startup:.2f}s start-up"
    return [Row("first scan", "os.walk + mutagen.File (baseline)", base),
            Row("first scan", "MediaNest Scanner (SQLite)", ours),
            Row("first scan", "beets import -A -C -q", theirs, beets_note)]


def _beets_round(beet: Path, root: Path, runs: list[Timing]) -> tuple[Path | None, str]:
    try:
        runs.append(beets_first(beet, root))
        return beet, ""
    except Exception as exc:  # beets failing (a CalledProcessError, say) must not end the benchmark
        detail = getattr(exc, "stderr", b"") or b""
        console.print(f"[yellow]beets failed: {exc} {detail.decode(errors='replace')[-800:]}[/yellow]")
        return None, f"failed: {type(exc).__name__}"


def rescan(root: Path, count: int, repeat: int) -> list[Row]:
    url, artwork_dir = fresh_db("medianest-rescan")
    console.print(f"indexing {count} files for the rescan test (not timed), then rescanning...")
    walks, scans = asyncio.run(_rescans(url, root, artwork_dir, count, repeat * RESCAN_ROUNDS))
    return [Row("no-change rescan", "os.scandir walk + stat (baseline)", walks),
            Row("no-change rescan", "MediaNest Scanner (SQLite)", scans)]


# --- the table -----------------------------------------------------------------------------------

def verdict(row: Row, base: Row) -> tuple[str, str, str, str]:
    """(ratio vs baseline, the same in CPU seconds, target, met?); first scans compare files/s,
    rescans compare time. The target is judged on wall time, the CPU ratio is the cross-check."""
    if row is base:
        return "1.00x", "1.00x", "", ""
    if row.best is None or base.best is None or not row.best.files:
        return "-", "-", "", ""
    ours = "MediaNest" in row.tool
    if row.test == "first scan":
        ratio = (row.best.files / row.best.seconds) / (base.best.files / base.best.seconds)
        cpu = (row.best.files / row.least_cpu) / (base.best.files / base.least_cpu)
        target = f">= {FIRST_TARGET}x files/s" if ours else "(~0.05x expected)"
        met = ("yes" if ratio >= FIRST_TARGET else "NO") if ours else ""
        return f"{ratio:.2f}x files/s", f"{cpu:.2f}x", target, met
    ratio = row.best.seconds / base.best.seconds
    cpu = row.least_cpu / base.least_cpu
    return f"{ratio:.2f}x time", f"{cpu:.2f}x", f"<= {RESCAN_TARGET}x time", "yes" if ratio <= RESCAN_TARGET else "NO"


def print_table(rows: list[Row], repeat: int) -> None:
    title = (f"library scan: best of {repeat} rounds (rescan: {repeat * RESCAN_ROUNDS}), "
             f"{os.cpu_count()} cores, warm page cache; cpu s: least CPU seconds of any round")
    table = Table(title=title)
    columns = ("test", "tool", "files", "seconds", "files/s", "cpu s", "vs baseline", "in cpu", "target", "met",
               "note")
    for col in columns:
        table.add_column(col, justify="right" if col in ("files", "seconds", "files/s", "cpu s") else "left")
    bases = {r.test: r for r in rows if "baseline" in r.tool}
    for r in rows:
        t = r.best
        numbers = (f"{t.files:,}", f"{t.seconds:.3f}", f"{t.files / t.seconds:,.0f}", f"{r.least_cpu:.3f}") if t else (
            "-", "-", "-", "-")
        table.add_row(r.test, r.tool, *numbers, *verdict(r, bases[r.test]), r.note)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--first", type=int, default=1000, help="files in the first-scan test")
    parser.add_argument("--rescan", type=int, default=10_000, help="files in the rescan test")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per tool (the best counts)")
    parser.add_argument("--no-beets", action="store_true", help="skip beets")
    args = parser.parse_args()
    console.print("making the test libraries (reused when already on disk)...")
    small = ensure_corpus(WORK / f"library-{args.first}", args.first, albums_per_artist=5)
    big = ensure_corpus(WORK / f"library-{args.rescan}", args.rescan, albums_per_artist=10)
    rows = first_scan(small, args.first, args.repeat, not args.no_beets)
    rows += rescan(big, args.rescan, args.repeat)
    print_table(rows, args.repeat)


if __name__ == "__main__":
    main()
