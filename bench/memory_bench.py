"""Memory benchmark: the resident memory of a real `medianest serve`, all its processes, idle and after work.

    python3 run.py python bench/memory_bench.py [--items 100000] [--requests 1000] [--workers 1] [--settle 5]

With one worker (the default) `medianest serve` prepares, then becomes the server: one process (Granian
embedded). With --workers N > 1 it is Granian's supervisor, N spawned workers and multiprocessing's
resource tracker. A process that downloads also has a fork server (yt-dlp preloaded; none of these
scenarios downloads, so none starts). Every process of the server's tree is measured, however deep: RSS
(VmRSS), PSS and private memory (/proc/PID/smaps_rollup: PSS shares each shared page among the processes
that map it, so the PSS column adds up to what the tree really holds; RSS counts shared pages once per
process) and the peak RSS each process reached (VmHWM). Each scenario is a fresh `python -m medianest
serve` on a free port with its own data folder, waited for (the admin set up, the start-up scan
finished), then left alone for --settle seconds and until its processes and their RSS stop changing:

  1. idle with the demo library: `medianest serve --demo` (7 generated files);
  2. after the start-up scan of a generated library of --items tagged mp3s (bench/scan_corpus.py; the
     same folder as scan_bench.py's corpora, so a corpus already built there is reused);
  3. the same data folder served again (a restart: the default start-up scan finds nothing new), idle,
     then after --requests requests: GET /api/v1/media?per_page=100&page=k over the whole library, one
     in 50 a search instead.

In the same run, as peers: Navidrome (if a `navidrome` binary is on PATH) idle after its own scan of
the same library, and the floor of the Python stack: Granian serving a one-route FastAPI app (pydantic,
SQLAlchemy's asyncio engine and aiosqlite imported) with the same process model (one worker: Granian
embedded; more: a supervisor importing only Granian).

It prints one row per process and the totals against the issue's targets (an idle server with the demo
library at most 150 MB resident across its processes; at 100,000 items at most 200 MB), and asserts
nothing. The machine's load average is printed with each scenario; memory, unlike time, hardly depends
on it. Needs Linux (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))  # scan_corpus beside this file
from scan_corpus import VERSION as CORPUS_VERSION
from scan_corpus import ensure_corpus

import medianest
from medianest.library.demo import DEMO

WORK = Path(__file__).parent / ".work" / "memory"
CORPORA = Path(__file__).parent / ".work" / "scan"  # scan_bench.py's: its corpora are reused, not rebuilt
ALBUMS_PER_ARTIST = 10  # the shape of scan_bench.py's large (--rescan) corpus
PASSWORD = "bench-password-123"
SEARCH_EVERY = 50  # one request in this many is a search
TARGET_DEMO_MB = 150  # the issue: idle with the demo library, in total across the processes
TARGET_LARGE_MB = 200  # the issue: at 100,000 items
TARGET_LARGE_ITEMS = 100_000
MB = 1 << 20
console = Console(width=160)


# --- the processes and their memory ------------------------------------------------------------------------

@dataclass
class Proc:
    pid: int
    role: str
    rss: int  # bytes, VmRSS
    hwm: int  # bytes, VmHWM: the most this process has had resident
    pss: int | None  # bytes, from smaps_rollup (None: not readable)
    private: int | None  # bytes: Private_Clean + Private_Dirty


@dataclass
class Scenario:
    name: str
    procs: list[Proc] = field(default_factory=list)
    note: str = ""
    target_mb: float | None = None
    target_note: str = ""


def tree(root: int) -> list[int]:
    """`root` and all its descendants, parents before their children."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after the command name (which may hold spaces)
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo += sorted(children.get(pid, []))
    return out


def _kib_fields(path: str, names: tuple[str, ...]) -> dict[str, int]:
    """The `Name:   1234 kB` lines of a /proc file, in bytes."""
    out = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition(":")
        if key in names:
            out[key] = int(value.split()[0]) * 1024
    return out


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]


def role(pid: int, root: int, root_role: str) -> str:
    if pid == root:
        return root_role
    cmd = " ".join(_cmdline(pid))
    for marker, name in (("resource_tracker", "resource tracker (multiprocessing)"),
                         ("forkserver", "download fork server (yt-dlp preloaded, from the first download)"),
                         ("spawn_main", "worker (spawned)")):
        if marker in cmd:
            return name
    return cmd[:60] or f"pid {pid}"


def sample(root: int, root_role: str) -> list[Proc]:
    procs = []
    for pid in tree(root):
        try:
            status = _kib_fields(f"/proc/{pid}/status", ("VmRSS", "VmHWM"))
            name = role(pid, root, root_role)
        except OSError:  # it ended meanwhile
            continue
        pss = private = None
        with contextlib.suppress(OSError):
            rollup = _kib_fields(f"/proc/{pid}/smaps_rollup", ("Pss", "Private_Clean", "Private_Dirty"))
            pss = rollup.get("Pss")
            private = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
        if "VmRSS" in status:  # a zombie has none
            procs.append(Proc(pid, name, status["VmRSS"], status.get("VmHWM", 0), pss, private))
    return procs


def settle(root: int, root_role: str, seconds: float, limit_s: float = 60) -> list[Proc]:
    """After `seconds`, the first sample whose processes and total RSS match the one a second before."""
    time.sleep(seconds)
    last = sample(root, root_role)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(1)
        now = sample(root, root_role)
        same_procs = [p.pid for p in now] == [p.pid for p in last]
        if same_procs and abs(sum(p.rss for p in now) - sum(p.rss for p in last)) < MB:
            return now
        last = now
    return last


# --- medianest serve ---------------------------------------------------------------------------------------

@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path
    token: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # granian stops its workers on SIGTERM
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def medianest_serve(data: Path, library: Path, workers: int, demo: bool = False) -> Iterator[Server]:
    """`python -m medianest serve` on `data` and `library`, answering HTTP; stopped on exit."""
    port = _free_port()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(data), "MEDIANEST_MEDIA_DIRS": str(library),
           "MEDIANEST_PORT": str(port), "MEDIANEST_WORKERS": str(workers), "MEDIANEST_LOG_LEVEL": "WARNING",
           "MEDIANEST_RATE_LIMITS_ENABLED": "false"}
    for var in ("MEDIANEST_DATABASE_URL", "MEDIANEST_REDIS_URL"):
        env.pop(var, None)
    data.mkdir(parents=True, exist_ok=True)
    log = data.parent / f"serve-{time.strftime('%H%M%S')}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve", *(["--demo"] if demo else [])],
                                env=env, stdout=out, stderr=out)
        server = Server(f"http://127.0.0.1:{port}", proc, log)
        try:
            _wait_http(f"{server.base_url}/health", proc)
            yield server
        except Exception:
            console.print("[red]the server failed; the end of its log:[/]\n"
                          + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
            raise
        finally:
            _stop(proc)


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    """Any answer from `url` (a 503 /health is still an answer: the process serves)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=10)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url}")


def setup_admin(server: Server) -> None:
    r = httpx.post(f"{server.base_url}/api/v1/auth/setup", json={"username": "admin", "password": PASSWORD})
    r.raise_for_status()
    server.token = str(r.json()["data"]["access_token"])


def sign_in(server: Server) -> None:
    r = httpx.post(f"{server.base_url}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    r.raise_for_status()
    server.token = str(r.json()["data"]["access_token"])


def wait_scanned(server: Server, scan_id: int, items: int, timeout_s: float = 7200) -> float:
    """Scan `scan_id` (the start-up scan) has finished and the library holds `items`; its seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        scan = httpx.get(f"{server.base_url}/api/v1/library/scans/{scan_id}", headers=server.headers(), timeout=60)
        if scan.status_code == 200 and scan.json()["data"]["status"] not in ("queued", "running"):
            total = httpx.get(f"{server.base_url}/api/v1/media", params={"per_page": 1}, headers=server.headers(),
                              timeout=60).json()["meta"]["total"]
            if total < items:
                raise RuntimeError(f"scan {scan_id} ended {scan.json()['data']['status']} with {total} of "
                                   f"{items} files indexed")
            return time.monotonic() - start
        time.sleep(1)
    raise RuntimeError(f"scan {scan_id} did not finish in {timeout_s:.0f} s")


def list_requests(server: Server, count: int, items: int) -> str:
    """`count` requests, one after another: pages of 100 in order (wrapping), one in SEARCH_EVERY a search."""
    pages = max(1, -(-items // 100))
    artists = max(1, items // (10 * ALBUMS_PER_ARTIST))
    errors = 0
    start = time.monotonic()
    with httpx.Client(base_url=server.base_url, headers=server.headers(), timeout=120) as http:
        for n in range(count):
            if n % SEARCH_EVERY == SEARCH_EVERY - 1:
                word = f"Artist {n % artists:03d}" if n % 2 else f"Song {n * 37 % items:05d}"
                params: dict[str, str | int] = {"q": word, "per_page": 100}
            else:
                params = {"per_page": 100, "page": n % pages + 1}
            r = http.get("/api/v1/media", params=params)
            errors += r.status_code != 200
    searches = count // SEARCH_EVERY
    return (f"{count - searches} pages + {searches} searches in {time.monotonic() - start:.0f} s"
            f"{f', {errors} errors' if errors else ''}")


# --- the peers ---------------------------------------------------------------------------------------------

FLOOR_APP = '''"""The floor of the stack: one FastAPI route under Granian, as `medianest serve` runs its app."""
import multiprocessing
import sys

if __name__ == "__main__" and sys.argv[2] == "1":  # one worker: Granian embedded, as `medianest serve` runs
    import asyncio
    import signal

    import uvloop
    from granian.constants import Interfaces
    from granian.server.embed import Server

    async def main() -> None:
        server = Server(lambda: __import__("floor_app").app, factory=True, interface=Interfaces.ASGI,
                        address="127.0.0.1", port=int(sys.argv[1]))
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.stop)
        await server.serve()

    uvloop.run(main())
elif __name__ == "__main__":  # the supervisor: Granian only
    from granian import Granian
    from granian.constants import Interfaces, Loops

    multiprocessing.set_start_method("spawn", force=True)
    Granian("floor_app:app", interface=Interfaces.ASGI, address="127.0.0.1", port=int(sys.argv[1]),
            workers=int(sys.argv[2]), loop=Loops.uvloop).serve()
else:  # a worker, or the embedded server's app
    import aiosqlite  # noqa: F401
    import pydantic  # noqa: F401
    import sqlalchemy.ext.asyncio  # noqa: F401
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}
'''


def floor(run: Path, workers: int, settle_s: float) -> Scenario:
    script = run / "floor_app.py"
    script.write_text(FLOOR_APP)
    port = _free_port()
    with (run / "floor.log").open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(script), str(port), str(workers)], cwd=run, stdout=out,
                                stderr=out)
        try:
            _wait_http(f"http://127.0.0.1:{port}/health", proc)
            procs = settle(proc.pid, "server (one process)" if workers == 1 else "supervisor (granian only)", settle_s)
        finally:
            _stop(proc)
    return Scenario("floor: FastAPI + SQLAlchemy under Granian, 1 route", procs, "no library, no database")


def navidrome(run: Path, library: Path, items: int, settle_s: float) -> Scenario:
    name = f"navidrome, idle after its scan of {items:,} items"
    exe = shutil.which("navidrome")
    if not exe:
        return Scenario(name, note="not available: no `navidrome` on PATH, not measured")
    port = _free_port()
    data = run / "navidrome"
    data.mkdir()
    env = {**os.environ, "ND_MUSICFOLDER": str(library), "ND_DATAFOLDER": str(data), "ND_PORT": str(port),
           "ND_ADDRESS": "127.0.0.1", "ND_LOGLEVEL": "warn", "ND_SCANNER_SCANONSTARTUP": "true",
           "ND_ENABLEINSIGHTSCOLLECTOR": "false"}
    with (run / "navidrome.log").open("wb") as out:
        proc = subprocess.Popen([exe], env=env, cwd=data, stdout=out, stderr=out)
        try:
            _wait_http(f"http://127.0.0.1:{port}/ping", proc)
            start = time.monotonic()
            _wait_quiet(proc.pid)  # its scan has no API without a user: done when the CPU goes quiet
            procs = settle(proc.pid, "navidrome", settle_s)
            note = f"scan over (CPU quiet) after {time.monotonic() - start:.0f} s"
        except Exception as exc:
            procs, note = [], f"failed: {exc}"
        finally:
            _stop(proc)
    return Scenario(name, procs, note)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_quiet(pid: int, window_s: float = 5, busy: float = 0.02, timeout_s: float = 7200) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = _cpu_s(pid)
        time.sleep(window_s)
        if (_cpu_s(pid) - before) / window_s < busy:
            return
    raise RuntimeError("still busy")


# --- the scenarios -----------------------------------------------------------------------------------------

def corpus_for(items: int) -> Path:
    """A corpus of `items` files: any already built by scan_bench.py or load_bench.py, else a new one."""
    for folder, albums_per_artist in ((CORPORA, ALBUMS_PER_ARTIST), (CORPORA, 5), (CORPORA.parent / "load", 4)):
        root = folder / f"library-{items}"
        marker = root.parent / f"{root.name}.corpus"
        if marker.is_file() and marker.read_text() == f"{CORPUS_VERSION} {items} {albums_per_artist}":
            return root
    start = time.monotonic()
    console.print(f"building a corpus of {items:,} tagged mp3s in {CORPORA} ...")
    root = ensure_corpus(CORPORA / f"library-{items}", items, ALBUMS_PER_ARTIST)
    console.print(f"built in {time.monotonic() - start:.0f} s")
    return root


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def _root_role(workers: int) -> str:
    return "medianest serve (one process)" if workers == 1 else f"supervisor (medianest serve, {workers} workers)"


def demo_idle(run: Path, args: argparse.Namespace) -> Scenario:
    data, library = run / "demo" / "data", run / "demo" / "media"
    library.mkdir(parents=True)
    with medianest_serve(data, library, args.workers, demo=True) as server:
        setup_admin(server)
        wait_scanned(server, 1, len(DEMO))
        procs = settle(server.process.pid, _root_role(args.workers), args.settle)
    return Scenario(f"idle, demo library ({len(DEMO)} files)", procs, _load(), TARGET_DEMO_MB)


def large(run: Path, corpus: Path, args: argparse.Namespace) -> list[Scenario]:
    data = run / "large" / "data"
    target_note = "" if args.items == TARGET_LARGE_ITEMS else f" (for {TARGET_LARGE_ITEMS:,})"
    out: list[Scenario] = []

    def measure(server: Server, name: str, note: str) -> None:
        procs = settle(server.process.pid, _root_role(args.workers), args.settle)
        out.append(Scenario(name, procs, f"{note}; {_load()}", TARGET_LARGE_MB, target_note))
        console.print(f"{name}: {_total_mb(procs):.0f} MB; {_load()}")

    with medianest_serve(data, corpus, args.workers) as server:
        setup_admin(server)
        seconds = wait_scanned(server, 1, args.items)
        measure(server, f"after the start-up scan of {args.items:,} items", f"scan {seconds:.0f} s")
    with medianest_serve(data, corpus, args.workers) as server:  # the restart: a no-change start-up scan
        sign_in(server)
        seconds = wait_scanned(server, 2, args.items)
        measure(server, f"restarted on {args.items:,} items, idle", f"its no-change scan {seconds:.0f} s")
        note = list_requests(server, args.requests, args.items)
        measure(server, f"  then after {args.requests:,} list requests", note)
    return out


# --- the table ---------------------------------------------------------------------------------------------

def _mb(value: int | None) -> str:
    return "" if value is None else f"{value / MB:.1f}"


def _total_mb(procs: list[Proc]) -> float:
    return sum(p.rss for p in procs) / MB


def _sum(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def report(scenarios: list[Scenario], args: argparse.Namespace) -> None:
    table = Table(title=f"Resident memory per process (MB = MiB; {args.workers} worker(s))")
    for col in ("scenario", "pid", "process", "RSS", "PSS", "private", "peak RSS"):
        table.add_column(col, justify="left" if col in ("scenario", "process") else "right")
    for s in scenarios:
        if not s.procs:
            table.add_row(s.name, "", s.note, "", "", "", "")
            table.add_section()
            continue
        for i, p in enumerate(s.procs):
            table.add_row(s.name if i == 0 else "", str(p.pid), p.role, _mb(p.rss), _mb(p.pss), _mb(p.private),
                          _mb(p.hwm))
        table.add_row("", "", f"[bold]total, {len(s.procs)} processes[/]", f"[bold]{_mb(sum(p.rss for p in s.procs))}",
                      f"[bold]{_mb(_sum([p.pss for p in s.procs]))}", _mb(_sum([p.private for p in s.procs])), "")
        table.add_section()
    console.print(table)

    totals = Table(title="Totals against the issue's targets (resident in total across the processes)")
    for col in ("scenario", "RSS total", "PSS total", "target", "verdict", "notes"):
        totals.add_column(col, justify="right" if col in ("RSS total", "PSS total", "target") else "left")
    for s in scenarios:
        rss = _total_mb(s.procs)
        pss = _sum([p.pss for p in s.procs])
        verdict = ""
        if s.target_mb is not None and s.procs:
            verdict = "[green]met[/]" if rss <= s.target_mb else f"[red]missed[/] by {rss - s.target_mb:.0f} MB"
        totals.add_row(s.name, f"{rss:.0f}" if s.procs else "", _mb(pss).split(".")[0] if s.procs else "",
                       f"≤ {s.target_mb:.0f}{s.target_note}" if s.target_mb else "", verdict, s.note)
    console.print(totals)


# --- main --------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> None:
    console.print(f"medianest from {Path(medianest.__file__).parent}; Python {sys.version.split()[0]}; {_load()}")
    corpus = corpus_for(args.items)
    WORK.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    scenarios: list[Scenario] = []
    try:
        scenarios.append(demo_idle(run_dir, args))
        console.print(f"{scenarios[-1].name}: {_total_mb(scenarios[-1].procs):.0f} MB; {_load()}")
        scenarios += large(run_dir, corpus, args)
        scenarios.append(floor(run_dir, args.workers, args.settle))
        scenarios.append(navidrome(run_dir, corpus, args.items, args.settle))
    finally:
        if args.keep:
            console.print(f"kept {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    report(scenarios, args)
    console.print(_load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=TARGET_LARGE_ITEMS, help="files in the generated library")
    parser.add_argument("--requests", type=int, default=1000, help="list requests after the restart")
    parser.add_argument("--workers", type=int, default=1, help="MEDIANEST_WORKERS (and the floor's workers)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds left alone before measuring")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs under bench/.work")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
