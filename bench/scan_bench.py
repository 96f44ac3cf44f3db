"""Library scan benchmark: MediaNest's Scanner against a plain mutagen loop, beets and a plain walk.

    uv run python bench/scan_bench.py [--first 1000] [--rescan 10000] [--repeat 3] [--no-beets]

First scan: N fresh tagged mp3s read by (1) os.walk + mutagen.File (the baseline: the least work that
still reads every tag), (2) MediaNest's Scanner into a fresh, migrated SQLite DB (migration not timed;
walk, probe, artwork and DB writes timed), (3) `beet import -A -C -q` into a fresh beets library.
No-change rescan: 10x more files, already indexed, against an os.scandir walk that stats every file.
Every timing is the best of --repeat runs (the machine is shared and noisy); files are in the page
cache for every tool alike. It prints a table and asserts nothing.
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

import scan_beets  # noqa: E402
from scan_corpus import ensure_corpus  # noqa: E402

from medianest.db.engine import create_engine, create_session_factory  # noqa: E402
from medianest.db.migrate import upgrade  # noqa: E402
from medianest.library.scanner import Scanner, ScanStats  # noqa: E402

WORK = Path(__file__).parent / ".work" / "scan"
FIRST_TARGET = 0.5  # MediaNest's first scan: at least half the plain loop's files/s
RESCAN_TARGET = 2.0  # a no-change rescan: at most twice the plain walk's time
console = Console()


@dataclass
class Row:
    test: str
    tool: str
    files: int
    seconds: float
    note: str = ""


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


def best_of(repeat: int, run: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    """The fastest of `repeat` runs: noise from other processes only ever adds time."""
    runs = [run() for _ in range(repeat)]
    return min(runs)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


# --- MediaNest -----------------------------------------------------------------------------------

def fresh_db(name: str) -> tuple[str, Path]:
    """A migrated, empty SQLite DB and an empty artwork folder (the migration is not timed)."""
    home = WORK / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = f"sqlite+aiosqlite:///{home / 'medianest.db'}"
    upgrade(url)
    return url, home / "artwork"


async def _scan(url: str, root: Path, artwork_dir: Path) -> tuple[float, ScanStats]:
    engine = create_engine(url)
    try:
        scanner = Scanner(create_session_factory(engine), [root], artwork_dir)
        start = time.perf_counter()
        stats = await scanner.run()
        return time.perf_counter() - start, stats
    finally:
        await engine.dispose()


def medianest_first(root: Path, expected: int) -> tuple[float, int]:
    url, artwork_dir = fresh_db("medianest-first")
    seconds, stats = asyncio.run(_scan(url, root, artwork_dir))
    _check(stats, added=expected)
    return seconds, stats.added


def medianest_rescan(url: str, root: Path, artwork_dir: Path, expected: int) -> tuple[float, int]:
    seconds, stats = asyncio.run(_scan(url, root, artwork_dir))
    _check(stats, unchanged=expected)
    return seconds, stats.unchanged


def _check(stats: ScanStats, **want: int) -> None:
    """A fast scan that indexed the wrong thing is no result: say so loudly (but keep going)."""
    got = stats.as_dict()
    if any(got[k] != v for k, v in want.items()) or stats.failed or stats.removed:
        console.print(f"[red]unexpected scan result {got}, wanted {want}[/red]")


# --- the two tests -------------------------------------------------------------------------------

def first_scan(root: Path, count: int, repeat: int, with_beets: bool) -> list[Row]:
    mutagen_loop(root)  # warm the page cache and imports so the first tool timed is not penalised
    base = best_of(repeat, lambda: timed(lambda: mutagen_loop(root)))
    ours = best_of(repeat, lambda: medianest_first(root, count))
    rows = [Row("first scan", "os.walk + mutagen.File (baseline)", base[1], base[0]),
            Row("first scan", "MediaNest Scanner (SQLite)", ours[1], ours[0])]
    if with_beets:
        rows.append(beets_row(root, repeat))
    return rows


def beets_row(root: Path, repeat: int) -> Row:
    try:
        beet = scan_beets.install(WORK.parent)
        home = WORK / "beets"
        seconds, items = best_of(repeat, lambda: scan_beets.first_import(beet, home, root))
        startup = scan_beets.startup_seconds(beet, home)
        return Row("first scan", "beets import -A -C -q", items, seconds, f"incl. {startup:.2f}s start-up")
    except (scan_beets.BeetsUnavailable, OSError, ValueError) as exc:
        console.print(f"[yellow]beets skipped: {exc}[/yellow]")
        return Row("first scan", "beets (unavailable)", 0, float("nan"), str(exc)[:60])
    except Exception as exc:  # a beets failure (say a CalledProcessError) must not end the benchmark
        detail = getattr(exc, "stderr", b"") or b""
        console.print(f"[yellow]beets failed: {exc} {detail.decode(errors='replace')[-800:]}[/yellow]")
        return Row("first scan", "beets (failed)", 0, float("nan"), type(exc).__name__)


def rescan(root: Path, count: int, repeat: int) -> list[Row]:
    url, artwork_dir = fresh_db("medianest-rescan")
    console.print(f"indexing {count} files for the rescan test (not timed)...")
    asyncio.run(_scan(url, root, artwork_dir))
    plain_walk(root)
    walk = best_of(repeat, lambda: timed(lambda: plain_walk(root)))
    ours = best_of(repeat, lambda: medianest_rescan(url, root, artwork_dir, count))
    return [Row("no-change rescan", "os.scandir walk + stat (baseline)", walk[1], walk[0]),
            Row("no-change rescan", "MediaNest Scanner (SQLite)", ours[1], ours[0])]


# --- the table -----------------------------------------------------------------------------------

def verdict(row: Row, base: Row) -> tuple[str, str, str]:
    """(ratio vs baseline, target, met?) for one row; first scans compare speed, rescans time."""
    if row is base or not row.files:
        return "1.00x" if row is base else "-", "", ""
    if row.test == "first scan":
        ratio = (row.files / row.seconds) / (base.files / base.seconds)
        target = f">= {FIRST_TARGET}x speed" if "MediaNest" in row.tool else "(~0.05x expected)"
        met = ("yes" if ratio >= FIRST_TARGET else "NO") if "MediaNest" in row.tool else ""
        return f"{ratio:.2f}x speed", target, met
    ratio = row.seconds / base.seconds
    return f"{ratio:.2f}x time", f"<= {RESCAN_TARGET}x time", "yes" if ratio <= RESCAN_TARGET else "NO"


def print_table(rows: list[Row], repeat: int) -> None:
    table = Table(title=f"library scan, best of {repeat} ({os.cpu_count()} cores, warm page cache)")
    for col in ("test", "tool", "files", "seconds", "files/s", "vs baseline", "target", "met", "note"):
        table.add_column(col, justify="right" if col in ("files", "seconds", "files/s") else "left")
    bases = {r.test: r for r in rows if "baseline" in r.tool}
    for r in rows:
        rate = f"{r.files / r.seconds:,.0f}" if r.files and r.seconds == r.seconds else "-"
        table.add_row(r.test, r.tool, f"{r.files:,}", f"{r.seconds:.3f}", rate, *verdict(r, bases[r.test]),
                      r.note)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=1000, help="files in the first-scan test")
    parser.add_argument("--rescan", type=int, default=10_000, help="files in the rescan test")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (best counts)")
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
