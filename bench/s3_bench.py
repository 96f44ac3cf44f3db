"""S3 streaming benchmark: MediaNest streaming an item kept in a bucket against the same bytes fetched
directly from the S3 server by a plain client, in the same run.

    python3 run.py python bench/s3_bench.py [--size-mb 64] [--rounds 5] [--ranges 40] [--workers 1]

The S3 server is moto's (`python -m moto.server`, the S3 HTTP API on 127.0.0.1; MinIO is not installable
here). One WAV of --size-mb made by ffmpeg (kept in bench/.work/s3/) is put in a bucket under `music/`. A
real `medianest serve` with that prefix as its library (MEDIANEST_S3_MEDIA_PREFIXES, proxied streams, the
default) scans it; an admin is set up through the API and the item's signed `stream_url` is what is read.
A second server does the same with MEDIANEST_S3_REDIRECT=true (the client follows its 307 to a presigned
URL, Range kept). The peer is httpx, the same client, on a presigned URL of the same object straight from
the S3 server. A reference row relays the whole object through a bare ASGI app on Granian with obstore
(bench/s3_relay_app.py: no routing, checks or Range): the least any proxy built of these parts costs.

Two cases, each measured --rounds times, interleaved, best kept: the whole file (one GET, read to the end)
and 1 MiB ranges at random offsets (--ranges sequential GETs, one connection kept alive). Both sides read
every byte; the first bytes of each answer are checked against the file. It prints a table and asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))  # range_bench beside this file
sys.path.insert(0, str(Path(__file__).parent.parent))  # tests.storage.s3server, the S3 server's starter

from range_bench import free_port, medianest, medianest_stream_url, running, wait_http
from tests.storage.s3server import S3Server, s3_server

WORK = Path(__file__).parent / ".work" / "s3"
MIB = 1024 * 1024
TARGET = 0.8
PROXIED, REDIRECTED = "MediaNest, proxied (the default)", "MediaNest, 307 to a presigned URL"
PEER = "httpx on a presigned URL (peer)"
RELAY = "reference: a bare Granian + obstore relay"
KEY = "music/s3-bench.wav"
console = Console(width=150)


def ensure_media(size_mb: int) -> Path:
    """A WAV of about `size_mb` MB made by ffmpeg (48 kHz stereo 16-bit: 192,000 bytes a second)."""
    path = WORK / f"s3-bench-{size_mb}.wav"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        seconds = size_mb * 1_000_000 // 192_000
        from imageio_ffmpeg import get_ffmpeg_exe

        subprocess.run([get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-ac", "2",
                        "-c:a", "pcm_s16le", str(path)], check=True)
    return path


def s3_env(s3: S3Server, bucket: str) -> dict[str, str]:
    """A server whose library is the bucket's `music/` prefix (and an empty local folder)."""
    return {"MEDIANEST_S3_MEDIA_PREFIXES": "music/",
            **{f"MEDIANEST_{k.upper()}": str(v) for k, v in s3.settings(bucket).items()}}


def whole(client: httpx.Client, url: str, size: int, head: bytes) -> float:
    """Seconds to read the whole file."""
    start = time.perf_counter()
    got, first = 0, b""
    with client.stream("GET", url) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes(MIB):
            first = first or chunk[:len(head)]
            got += len(chunk)
    elapsed = time.perf_counter() - start
    if got != size or first != head:
        raise RuntimeError(f"{url}: {got} bytes of {size}, or not the file's")
    return elapsed


def ranges(client: httpx.Client, url: str, size: int, data_at: Callable[[int], bytes], count: int) -> float:
    """Seconds to read `count` 1 MiB ranges at random offsets."""
    offsets = [random.randrange(0, size - MIB) for _ in range(count)]
    start = time.perf_counter()
    for offset in offsets:
        r = client.get(url, headers={"Range": f"bytes={offset}-{offset + MIB - 1}"})
        if r.status_code != 206 or len(r.content) != MIB or r.content[:16] != data_at(offset):
            raise RuntimeError(f"{url}: a range answered {r.status_code} with {len(r.content)} bytes")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ranges", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    path = ensure_media(args.size_mb)
    content = path.read_bytes()
    size = len(content)
    WORK.mkdir(parents=True, exist_ok=True)
    with s3_server(WORK / "moto.log") as s3:
        bucket = s3.new_bucket("bench")
        s3.client.upload_file(str(path), bucket, "music/s3-bench.wav")
        presigned = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                                 aws_access_key_id="x", aws_secret_access_key="y").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "music/s3-bench.wav"}, ExpiresIn=3600)
        redirect = {**s3_env(s3, bucket), "MEDIANEST_S3_REDIRECT": "true"}
        with tempfile.TemporaryDirectory(prefix="empty-", dir=WORK) as local, \
                medianest(Path(local), args.workers, s3_env(s3, bucket)) as proxied, \
                medianest(Path(local), args.workers, redirect) as redirecting:
            urls = {PROXIED: proxied + medianest_stream_url(proxied),  # a path with its media token
                    REDIRECTED: redirecting + medianest_stream_url(redirecting),
                    PEER: presigned}
            with bare_relay(s3, bucket) as relay:
                results = measure(urls, size, content, args)
                results |= measure({RELAY: relay}, size, content, args, ranges_too=False)
    print_table(results, size, args)


@contextmanager
def bare_relay(s3: S3Server, bucket: str) -> Iterator[str]:
    """bench/s3_relay_app.py on Granian: the object relayed and nothing else (it answers whole files only)."""
    port = free_port()
    env = {**os.environ, "S3_BENCH_BUCKET": bucket, "S3_BENCH_ENDPOINT": s3.endpoint, "S3_BENCH_KEY": KEY,
           "PYTHONPATH": str(Path(__file__).parent)}
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "s3_relay_app:app"]
    with running(cmd, env=env):
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/"


def measure(urls: dict[str, str], size: int, content: bytes, args: argparse.Namespace,
            ranges_too: bool = True) -> dict[str, dict[str, float]]:
    best: dict[str, dict[str, float]] = {name: {"whole": float("inf"), "ranges": float("inf")} for name in urls}
    with httpx.Client(timeout=120, follow_redirects=True) as client:  # Range is kept across the 307
        for name, url in urls.items():  # warm-up (connections, first import paths), and every byte checked once
            if client.get(url).content != content:
                raise RuntimeError(f"{name} did not serve the file's bytes")
        for _ in range(args.rounds):
            for name, url in urls.items():
                best[name]["whole"] = min(best[name]["whole"], whole(client, url, size, content[:16]))
                if ranges_too:
                    best[name]["ranges"] = min(best[name]["ranges"], ranges(
                        client, url, size, lambda at: content[at:at + 16], args.ranges))
    return best


def print_table(results: dict[str, dict[str, float]], size: int, args: argparse.Namespace) -> None:
    table = Table(title=f"S3 streaming: {size / MIB:.0f} MiB WAV in moto's S3 server, best of {args.rounds}")
    table.add_column("client")
    table.add_column("whole file MB/s", justify="right")
    table.add_column(f"1 MiB ranges MB/s ({args.ranges} in a row)", justify="right")
    table.add_column("whole file vs peer (target >= 0.8x)", justify="right")
    table.add_column("ranges vs peer", justify="right")
    peer = results[PEER]
    for name, r in results.items():
        mine = name not in (PEER, RELAY)
        ranged = r["ranges"] != float("inf")
        table.add_row(name, f"{size / r['whole'] / 1e6:.0f}",
                      f"{args.ranges * MIB / r['ranges'] / 1e6:.1f}" if ranged else "-",
                      _verdict(peer["whole"] / r["whole"], mine) if name != PEER else "",
                      _verdict(peer["ranges"] / r["ranges"], mine) if mine else "")
    console.print(table)


def _verdict(ratio: float, judged: bool = True) -> str:
    return f"{ratio:.2f}x" + (f" {'met' if ratio >= TARGET else 'NOT met'}" if judged else "")


if __name__ == "__main__":
    main()
