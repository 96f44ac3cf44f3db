"""Download benchmark: one 100 MB file through MediaNest (POST to the `download:completed` event) against
the plain `yt-dlp` command on the same URL in the same run; then 20 small downloads queued at once.

    uv run python bench/download_bench.py [--rounds 3] [--size-mb 100] [--small 20]

Everything is local: the file is served by the tests' `MediaServer` on 127.0.0.1 (no throttling), and
MediaNest is a real `medianest serve` (embedded mode: SQLite, its own queue consumer) followed by a
real Socket.IO client. Rounds interleave the two tools and each one's best round counts. The small
batch reports whether every download completed, none was lost, and the most progress events any one
download sent in a second (the contract allows 4). It prints tables and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import socketio
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.downloads.mediaserver import MediaServer, make_audio, make_video  # noqa: E402

WORK = Path(__file__).parent / ".work" / "download"
PASSWORD = "bench-password-123"
TARGET = 1.15
console = Console(width=140)


def ensure_big(size_mb: int) -> Path:
    path = WORK / f"big-{size_mb}mb.mp4"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        make_video(path, seconds=2, padding_bytes=size_mb * 1_000_000)
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def medianest() -> Iterator[tuple[str, str, Path]]:
    """A real server in a fresh data dir; yields its URL, an admin token and its library folder."""
    root = Path(tempfile.mkdtemp(prefix="medianest-", dir=WORK))
    library, port = root / "library", free_port()
    library.mkdir()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(root / "data"), "MEDIANEST_MEDIA_DIRS": str(library),
           "MEDIANEST_PORT": str(port), "MEDIANEST_LOG_LEVEL": "WARNING", "MEDIANEST_RATE_LIMITS_ENABLED": "false",
           "MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "MEDIANEST_DOWNLOADS_CONCURRENCY": "2"}
    env.pop("MEDIANEST_DATABASE_URL", None)
    env.pop("MEDIANEST_REDIS_URL", None)
    with (root / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env, stdout=log, stderr=log)
        try:
            base = f"http://127.0.0.1:{port}"
            yield base, _admin(base, proc), library
        finally:
            proc.terminate()
            proc.wait(30)
            shutil.rmtree(root, ignore_errors=True)


def _admin(base: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("medianest serve exited")
        try:
            r = httpx.post(f"{base}/api/v1/auth/setup", json={"username": "bench", "password": PASSWORD})
            return str(r.json()["data"]["access_token"])
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("medianest serve did not start")


class Watcher:
    """A Socket.IO client that timestamps every download event."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.client.on("*", self._record)

    async def _record(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((time.perf_counter(), event, data))

    async def connect(self, base: str, token: str) -> None:
        await self.client.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    async def until(self, ids: set[str], timeout_s: float = 600) -> float:
        """When the last of `ids` completed (or failed): the perf_counter of its event."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = {d["id"]: t for t, e, d in self.events if e in ("download:completed", "download:failed")}
            if ids <= done.keys():
                return max(done[i] for i in ids)
            await asyncio.sleep(0.01)
        raise RuntimeError(f"downloads did not finish: {ids}")


async def medianest_once(base: str, token: str, url: str) -> float:
    watcher = Watcher()
    await watcher.connect(base, token)
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            start = time.perf_counter()
            r = await http.post("/api/v1/downloads", json={"url": url})
            r.raise_for_status()
            end = await watcher.until({r.json()["data"]["id"]})
            status = (await http.get(f"/api/v1/downloads/{r.json()['data']['id']}")).json()["data"]["status"]
            if status != "completed":
                raise RuntimeError(f"the download {status}")
            return end - start
    finally:
        await watcher.client.disconnect()


def ytdlp_once(url: str) -> float:
    out = Path(tempfile.mkdtemp(prefix="ytdlp-", dir=WORK))
    try:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "yt_dlp", "-q", "--no-progress", "--no-update", "--proxy", "", "-o",
                        str(out / "%(id)s.%(ext)s"), url], check=True)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


async def big_file(args: argparse.Namespace) -> tuple[float, float, int]:
    path = ensure_big(args.size_mb)
    size = path.stat().st_size
    best_mn, best_raw = float("inf"), float("inf")
    with MediaServer() as server:
        for round_no in range(args.rounds):
            # A new URL each round: MediaNest would otherwise link the copy it already has.
            url = server.add_file(f"/r{round_no}/big-{round_no}.mp4", path, "video/mp4")
            best_raw = min(best_raw, ytdlp_once(url))
            with medianest() as (base, token, library):
                best_mn = min(best_mn, await medianest_once(base, token, url))
                if sum(f.stat().st_size for f in library.rglob("*") if f.is_file()) != size:
                    raise RuntimeError("the library does not hold the downloaded file")
            console.print(f"round {round_no + 1}: yt-dlp best {best_raw:.2f}s, MediaNest best {best_mn:.2f}s")
    return best_mn, best_raw, size


async def small_batch(count: int) -> dict[str, Any]:
    song = WORK / "small.mp3"
    if not song.exists():
        make_audio(song, seconds=20)
    with MediaServer() as server, medianest() as (base, token, library):
        urls = [server.add_file(f"/small/song-{i}.mp3", song, "audio/mpeg") for i in range(count)]
        server_throttle = max(song.stat().st_size // 2, 1)  # ~2 s each: long enough for progress events
        for i in range(count):
            server.throttle(f"/small/song-{i}.mp3", server_throttle)
        watcher = Watcher()
        await watcher.connect(base, token)
        start = time.perf_counter()
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            ids = set()
            for url in urls:
                r = await http.post("/api/v1/downloads", json={"url": url, "mode": "audio"})
                r.raise_for_status()
                ids.add(r.json()["data"]["id"])
            end = await watcher.until(ids)
            rows = (await http.get("/api/v1/downloads", params={"per_page": 100})).json()["data"]
        await watcher.client.disconnect()
        files = [f for f in library.rglob("*") if f.is_file()]
    return {"queued": count, "completed": sum(r["status"] == "completed" for r in rows), "files": len(files),
            "seconds": end - start, "max_per_s": _max_per_second(watcher.events)}


def _max_per_second(events: list[tuple[float, str, dict[str, Any]]]) -> int:
    """The most progress events one download sent within any 1-second window (as received)."""
    times: dict[str, list[float]] = defaultdict(list)
    for t, e, d in events:
        if e == "download:progress":
            times[d["id"]].append(t)
    worst = 0
    for ts in times.values():
        for i, t in enumerate(ts):
            worst = max(worst, sum(1 for u in ts[i:] if u - t < 1.0))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--small", type=int, default=20)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    mn, raw, size = asyncio.run(big_file(args))
    table = Table(title=f"one {size / 1e6:.0f} MB file from 127.0.0.1, best of {args.rounds}")
    for col in ("tool", "seconds", "MB/s", "vs yt-dlp", "target", "met"):
        table.add_column(col)
    table.add_row("yt-dlp (CLI)", f"{raw:.2f}", f"{size / raw / 1e6:.0f}", "1.00x", "", "")
    table.add_row("MediaNest (POST -> completed event)", f"{mn:.2f}", f"{size / mn / 1e6:.0f}", f"{mn / raw:.2f}x",
                  f"<= {TARGET}x", "yes" if mn / raw <= TARGET else "NO")
    console.print(table)
    batch = asyncio.run(small_batch(args.small))
    table = Table(title=f"{args.small} small audio downloads queued at once (2 at a time)")
    for col in ("queued", "completed", "files in library", "seconds", "max progress events/s per download"):
        table.add_column(col)
    table.add_row(*(str(round(v, 1) if isinstance(v, float) else v) for v in batch.values()))
    console.print(table)


if __name__ == "__main__":
    main()
