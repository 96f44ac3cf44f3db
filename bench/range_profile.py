"""Per-request cost of /stream inside the app, without a server or a network: where the time goes.

    uv run python bench/range_profile.py [--requests 5000] [--chunk 4096] [--profile] [--app medianest|stock]
                                         [--no-fast-path]

Calls the ASGI app directly with random single-range GETs (the media file from range_bench.py) and
prints CPU microseconds per request; --profile prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from range_bench import ensure_media

from medianest.config import Settings


async def stream_target(app: Any) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post("/api/v1/auth/setup",
                              json={"username": "bench", "password": "bench-password-123"})
        headers = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}
        runner = app.state.parts.scans
        await runner.start(requested_by=None)
        await runner.wait()
        items = (await client.get("/api/v1/media", headers=headers)).json()["data"]
        return str(items[0]["stream_url"])


def scope_for(url: str, start: int, chunk: int) -> dict[str, Any]:
    path, _, query = url.partition("?")
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("127.0.0.1", 8080),
            "client": ("127.0.0.1", 5555),
            "headers": [(b"host", b"127.0.0.1:8080"),
                        (b"range", f"bytes={start}-{start + chunk - 1}".encode())]}


async def run(app: Any, url: str, size: int, chunk: int, count: int) -> float:
    sent = [0]

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)  # no request body; only a disconnect would ever come
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 206, message
        else:
            sent[0] += len(message.get("body", b""))

    # CPU time, not wall time: the machine may be shared, and being descheduled is not our cost.
    start = time.process_time()
    for _ in range(count):
        await app(scope_for(url, random.randrange(size - chunk), chunk), receive, send)
    elapsed = time.process_time() - start
    assert sent[0] == chunk * count
    return elapsed / count * 1e6


async def main_async(args: argparse.Namespace) -> None:
    path = ensure_media()
    size = path.stat().st_size
    if args.app == "stock":
        from starlette.applications import Starlette
        from starlette.responses import FileResponse
        from starlette.routing import Route

        async def file(_request: object) -> FileResponse:
            return FileResponse(path)

        app: Any = Starlette(routes=[Route("/file", file)])
        return await measure(app, "/file", size, args)
    from medianest.api.fastpath import StreamFastPath
    from medianest.app import create_app

    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), media_dirs=[path.parent], scan_on_start=False,
                            log_level="WARNING", rate_limits_enabled=False)
        app = create_app(settings)
        if args.no_fast_path:  # the middleware stack is built on the first request, so this still counts
            app.user_middleware = [m for m in app.user_middleware if m.cls is not StreamFastPath]
        async with app.router.lifespan_context(app):
            await measure(app, await stream_target(app), size, args)


async def measure(app: Any, url: str, size: int, args: argparse.Namespace) -> None:
    await run(app, url, size, args.chunk, 200)  # warm caches
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    us = await run(app, url, size, args.chunk, args.requests)
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(45)
    print(f"{args.app}: {us:.1f} us per {args.chunk}-byte range request ({1e6 / us:,.0f}/s on one core)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="pstats order for --profile (e.g. tottime)")
    parser.add_argument("--app", choices=("medianest", "stock"), default="medianest")
    parser.add_argument("--no-fast-path", action="store_true", help="measure the FastAPI route alone")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
