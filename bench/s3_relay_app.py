"""The reference row of bench/s3_bench.py: the least a proxy can do with the same tools - one ASGI app on
Granian that relays one object from the bucket with obstore, read ahead as MediaNest does, and nothing else
(no routing, access check, Range or conditional handling). Run by s3_bench.py with S3_BENCH_* variables."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import obstore
from obstore.store import S3Store

STORE = S3Store(os.environ["S3_BENCH_BUCKET"], config={  # type: ignore[arg-type]
    "endpoint": os.environ["S3_BENCH_ENDPOINT"], "region": "us-east-1", "access_key_id": "x",
    "secret_access_key": "y", "virtual_hosted_style_request": False}, client_options={"allow_http": True})
KEY = os.environ["S3_BENCH_KEY"]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    result = await obstore.get_async(STORE, KEY)
    headers = [(b"content-length", str(result.meta["size"]).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    queue: asyncio.Queue[Any] = asyncio.Queue(16)

    async def pump() -> None:
        async for chunk in result.stream(min_chunk_size=256 * 1024):
            await queue.put(chunk)
        await queue.put(None)

    task = asyncio.ensure_future(pump())
    while (chunk := await queue.get()) is not None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await task
    await send({"type": "http.response.body", "body": b"", "more_body": False})
