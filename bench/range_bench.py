"""Range-request benchmark: MediaNest's /stream against nginx (sendfile) serving the same file.

    uv run python bench/range_bench.py [--seconds 10] [--rounds 1] [--connections 16] [--workers N]
                                       [--no-reference]

One ~100 MB WAV (made once with ffmpeg, kept in bench/.work/range/) is served by
(1) nginx with its own minimal config on 127.0.0.1 (worker_processes auto, sendfile on) - the peer;
(2) a real `medianest serve` (temp data dir, the file's folder as the library, rate limits off; an
    admin is set up through the API and the item's signed `stream_url` is what wrk requests);
and two reference rows: (3) Starlette's stock FileResponse in a tiny app on one uvicorn worker (uvloop,
httptools) - the baseline the issue quotes; and (4) a bare ASGI app that does nothing but one pread per
range (no routing, auth or checks) on granian with as many workers as MediaNest - the ceiling for any
app on MediaNest's server.
wrk (16 connections, one thread per core) asks each for random-offset single ranges of 1 MiB and of
4 KiB for --seconds each, after a short warm-up; all servers run in the same run, on the same cores as
wrk, with the file in the page cache. With --rounds N each server is measured N times, interleaved,
and its best run is kept. Every server started here is stopped on the way out. It prints a table and
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

WORK = Path(__file__).parent / ".work" / "range"
MEDIA = WORK / "media" / "range-bench.wav"
# 48 kHz stereo 16-bit PCM is 192,000 bytes per second: 546 s is just over 100 MB.
SECONDS_OF_AUDIO = 546
CASES = {"1 MiB ranges": 1024 * 1024, "4 KiB ranges": 4 * 1024}
# The targets: big ranges are about bandwidth, small ones about per-request cost.
TARGETS = {"1 MiB ranges": ("MB/s", 0.8), "4 KiB ranges": ("req/s", 0.25)}
WARMUP_S = 2
console = Console(width=150)

WRK_SCRIPT = r"""
-- Random single ranges of CHUNK bytes inside a file of SIZE bytes, at URL.
local size = tonumber(os.getenv("BENCH_SIZE"))
local chunk = tonumber(os.getenv("BENCH_CHUNK"))
local url = os.getenv("BENCH_URL")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  local start = math.random(0, size - chunk)
  return wrk.format("GET", url, {["Range"] = "bytes=" .. start .. "-" .. (start + chunk - 1)})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Result:
    case: str
    server: str
    requests_s: float
    mb_s: float
    errors: int
    p50_ms: float
    p99_ms: float


# --- tools and the media file ---------------------------------------------------------------------

def ensure_tools() -> None:
    """nginx and wrk from Debian, installed only when missing."""
    if shutil.which("nginx") and shutil.which("wrk"):
        return
    console.print("installing nginx and wrk with apt-get...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx", "wrk"], check=True, env=env)


def ensure_media() -> Path:
    """A long WAV made with the imageio-ffmpeg binary; kept between runs."""
    if MEDIA.exists() and MEDIA.stat().st_size > 100_000_000:
        return MEDIA
    from medianest.library.ffmpeg import run_ffmpeg

    MEDIA.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"making {MEDIA} ...")
    partial = MEDIA.with_suffix(".part.wav")
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS_OF_AUDIO}",
                "-ac", "2", "-c:a", "pcm_s16le", "-metadata", "title=Range Bench", str(partial)])
    partial.rename(MEDIA)
    MEDIA.chmod(0o644)
    return MEDIA


def warm_page_cache(path: Path) -> None:
    with path.open("rb") as fh:
        while fh.read(8 * 1024 * 1024):
            pass


# --- servers --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[None]:
    """Run a server in its own process group and always stop the whole group (its workers too)."""
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield
    finally:
        _stop(proc)
        if log:
            out.close()  # type: ignore[union-attr]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers in the group (server workers) if any


def wait_http(url: str, timeout_s: float = 240) -> None:
    """Wait for a server to answer; a loaded machine can take a minute to import an app in each worker."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout_s}s")


NGINX_CONF = """
worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    types {{ audio/wav wav; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@contextmanager
def nginx(root: Path) -> Iterator[str]:
    prefix = Path(tempfile.mkdtemp(prefix="nginx-", dir=WORK))
    (prefix / "tmp").mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, root=root))
    try:
        with running(["nginx", "-p", str(prefix), "-c", str(conf)], log=prefix / "stdout.log"):
            wait_http(f"http://127.0.0.1:{port}/")
            yield f"http://127.0.0.1:{port}"
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@contextmanager
def medianest(media_dir: Path, workers: int, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    WORK.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="medianest-", dir=WORK))
    port = free_port()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(data), "MEDIANEST_MEDIA_DIRS": str(media_dir),
           "MEDIANEST_PORT": str(port), "MEDIANEST_HOST": "127.0.0.1", "MEDIANEST_WORKERS": str(workers),
           "MEDIANEST_RATE_LIMITS_ENABLED": "false", "MEDIANEST_LOG_LEVEL": "WARNING", **(extra_env or {})}
    cmd = [sys.executable, "-m", "medianest", "serve"]
    log = data / "serve.log"
    try:
        with running(cmd, env=env, log=log):
            base = f"http://127.0.0.1:{port}"
            try:
                wait_http(f"{base}/health")
            except RuntimeError:
                console.print(log.read_text(errors="replace")[-3000:])
                raise
            yield base
    finally:
        shutil.rmtree(data, ignore_errors=True)


def medianest_stream_url(base: str) -> str:
    """Set up the admin through the API, wait for the scan to index the file, return its stream_url."""
    r = httpx.post(f"{base}/api/v1/auth/setup", json={"username": "bench", "password": "bench-password-123"})
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = httpx.get(f"{base}/api/v1/media", headers=headers).json()["data"]
        if items:
            return str(items[0]["stream_url"])
        time.sleep(0.3)
    raise RuntimeError("the scan did not index the bench file")


@contextmanager
def reference(kind: str, path: Path, workers: int) -> Iterator[str]:
    """One of the reference apps below, served as the module docstring says."""
    port = free_port()
    env = {**os.environ, "BENCH_FILE": str(path)}
    cmd = [sys.executable, __file__, "--reference-app", kind, str(port), str(workers)]
    with running(cmd, env=env):
        wait_http(f"http://127.0.0.1:{port}/file")
        yield f"http://127.0.0.1:{port}/file"


def serve_reference(kind: str, port: int, workers: int) -> None:
    if kind == "bare":  # on MediaNest's own server and settings
        from granian import Granian
        from granian.constants import Interfaces, Loops
        from granian.log import LogLevels

        Granian(f"range_bench:{kind}_app", factory=True, interface=Interfaces.ASGI, address="127.0.0.1",
                port=port, workers=workers, loop=Loops.uvloop, log_level=LogLevels.warning,
                working_dir=Path(__file__).parent).serve()
        return
    import uvicorn

    uvicorn.run(f"range_bench:{kind}_app", app_dir=str(Path(__file__).parent), factory=True, host="127.0.0.1",
                port=port, workers=workers, loop="uvloop", http="httptools", access_log=False,
                log_level="warning")


def starlette_app() -> object:
    """Starlette's own FileResponse (Range, If-Range and multipart included) behind one route."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route

    path = os.environ["BENCH_FILE"]

    async def file(_request: object) -> FileResponse:
        return FileResponse(path, media_type="audio/wav")

    return Starlette(routes=[Route("/file", file)])


def bare_app() -> object:
    """The least an ASGI app can do for a range: no routing, no checks, one pread. A ceiling for any
    app on this server, not a competitor (it trusts its input and handles nothing else)."""
    path = os.environ["BENCH_FILE"]
    fd, size = os.open(path, os.O_RDONLY), os.path.getsize(path)

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            return
        spec = dict(scope["headers"]).get(b"range", b"bytes=0-0")[6:].split(b"-")
        start, end = int(spec[0]), int(spec[1]) + 1
        await send({"type": "http.response.start", "status": 206, "headers": [  # type: ignore[operator]
            (b"content-length", str(end - start).encode()),
            (b"content-range", f"bytes {start}-{end - 1}/{size}".encode())]})
        await send({"type": "http.response.body", "body": os.pread(fd, end - start, start)})  # type: ignore[operator]

    return app


# --- wrk ------------------------------------------------------------------------------------------

def check_range(url: str, content: bytes) -> None:
    """A fast server that sends the wrong bytes is no result: check one range first."""
    start = len(content) // 3
    r = httpx.get(url, headers={"Range": f"bytes={start}-{start + 99_999}"})
    if r.status_code != 206 or r.content != content[start:start + 100_000]:
        raise RuntimeError(f"{url} sent a wrong range ({r.status_code})")


def run_wrk(url: str, size: int, chunk: int, seconds: float, connections: int) -> dict[str, float]:
    script = WORK / "range.lua"
    script.write_text(WRK_SCRIPT)
    base, _, path = url.partition("://")[2].partition("/")
    env = {**os.environ, "BENCH_SIZE": str(size), "BENCH_CHUNK": str(chunk), "BENCH_URL": "/" + path}
    threads = min(os.cpu_count() or 1, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s",
           "-s", str(script), f"http://{base}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr.strip() or proc.stdout.strip()}")
    out = proc.stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return dict(json.loads(line.removeprefix("RESULT ")))


def measure(case: str, server: str, url: str, size: int, args: argparse.Namespace) -> Result:
    chunk = CASES[case]
    run_wrk(url, size, chunk, WARMUP_S, args.connections)
    raw = run_wrk(url, size, chunk, args.seconds, args.connections)
    seconds = raw["duration_us"] / 1e6
    rps = raw["requests"] / seconds
    result = Result(case, server, rps, rps * chunk / 1e6, int(raw["errors"]), raw["p50_us"] / 1000,
                    raw["p99_us"] / 1000)
    console.print(f"  {case:13} {server:34} {rps:10,.0f} req/s {result.mb_s:8,.0f} MB/s "
                  f"errors={result.errors}")
    return result


# --- the table ------------------------------------------------------------------------------------

def print_table(results: list[Result], args: argparse.Namespace) -> None:
    table = Table(title=f"random single-range GETs, wrk -c{args.connections}, {args.seconds}s each, "
                        f"best of {args.rounds}, "
                        f"{os.cpu_count()} cores shared with wrk, file in page cache")
    for col in ("case", "server", "req/s", "MB/s", "p50 ms", "p99 ms", "errors", "vs nginx", "target", "met"):
        table.add_column(col, justify="left" if col in ("case", "server", "target") else "right")
    peers = {r.case: r for r in results if r.server == "nginx"}
    for r in results:
        ratio, target, met = verdict(r, peers[r.case])
        table.add_row(r.case, r.server, f"{r.requests_s:,.0f}", f"{r.mb_s:,.0f}", f"{r.p50_ms:.2f}",
                      f"{r.p99_ms:.2f}", str(r.errors), ratio, target, met)
    console.print(table)


def verdict(r: Result, peer: Result) -> tuple[str, str, str]:
    metric, goal = TARGETS[r.case]
    ours, theirs = (r.mb_s, peer.mb_s) if metric == "MB/s" else (r.requests_s, peer.requests_s)
    ratio = f"{ours / theirs:.2f}x {metric}"
    if r.server.startswith("MediaNest"):
        return ratio, f">= {goal}x {metric}", "yes" if ours / theirs >= goal and not r.errors else "NO"
    return ratio, "", ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="MediaNest worker processes (default: one per core, as nginx's 'auto')")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every server this many times, interleaved, and keep each one's best")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference rows")
    parser.add_argument("--case", choices=list(CASES), action="append", help="measure only this case (repeatable)")
    parser.add_argument("--reference-app", nargs=3, metavar=("KIND", "PORT", "WORKERS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_app:
        kind, port, workers = args.reference_app
        return serve_reference(kind, int(port), int(workers))
    ensure_tools()
    path = ensure_media()
    warm_page_cache(path)
    results = run_all(path, args)
    print_table(results, args)


def run_all(path: Path, args: argparse.Namespace) -> list[Result]:
    content, size = path.read_bytes(), path.stat().st_size
    with ExitStack() as stack:
        servers = {"nginx": stack.enter_context(nginx(path.parent)) + "/" + path.name}
        base = stack.enter_context(medianest(path.parent, args.workers))
        servers[f"MediaNest ({args.workers} workers)"] = base + medianest_stream_url(base)
        if not args.no_reference:
            stock = stack.enter_context(reference("starlette", path, 1))
            servers["Starlette FileResponse (1 uvicorn worker)"] = stock
            servers[f"bare ASGI pread ({args.workers} workers)"] = stack.enter_context(
                reference("bare", path, args.workers))
        for url in servers.values():
            check_range(url, content)
        del content
        console.print(f"file: {path} ({size:,} bytes); servers up, measuring...")
        return best_runs(servers, size, args)


def best_runs(servers: dict[str, str], size: int, args: argparse.Namespace) -> list[Result]:
    """Each server's best of --rounds runs per case; rounds interleave servers so that a burst of load
    from elsewhere on the machine hits all of them alike."""
    best: dict[tuple[str, str], Result] = {}
    for _ in range(args.rounds):
        for case in args.case or CASES:
            for name, url in servers.items():
                r = measure(case, name, url, size, args)
                if (case, name) not in best or r.requests_s > best[case, name].requests_s:
                    best[case, name] = r
    return list(best.values())


if __name__ == "__main__":
    main()
