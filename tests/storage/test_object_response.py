"""`ObjectResponse` at the ASGI level against moto's S3 server: a player that goes away mid-body (as it
does on every seek) stops the reading cleanly, with no error and no task left behind."""

from __future__ import annotations

import asyncio
import gc
from datetime import timedelta
from pathlib import Path
from typing import Any

from medianest.config import Settings
from medianest.storage.objects import Bucket, Stored
from medianest.streaming.objects import ObjectResponse
from medianest.streaming.response import FileInfo
from tests.storage.s3server import S3Server


async def test_a_client_that_leaves_mid_body_stops_the_read_with_no_error_and_no_task_left(
        s3: S3Server, bucket: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * (64 * 1024)  # 16 MiB: many chunks
    src = tmp_path / "big.wav"
    src.write_bytes(data)
    b = Bucket(Settings(**s3.settings(bucket)))  # type: ignore[arg-type]
    stored = await b.upload(src, "m/big.wav")
    info = FileInfo(b.url(stored.key), stored.size, stored.mtime, "audio/wav", Stored(b, stored.key, stored.etag))
    before = asyncio.all_tasks()
    sent: list[dict[str, Any]] = []
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 3:  # the headers and two chunks, then the player seeks away
            gone.set()
        await asyncio.sleep(0)

    scope = {"type": "http", "method": "GET", "headers": [], "path": "/"}
    await ObjectResponse(info)(scope, receive, send)  # returns: no exception reaches the server
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert sent[0]["status"] == 200 and 2 <= len(bodies) < 20  # stopped soon after the client left
    assert b"".join(bytes(x) for x in bodies) == data[:sum(len(x) for x in bodies)]
    await asyncio.sleep(0.1)
    gc.collect()
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()


async def test_a_player_reading_slower_than_the_call_timeout_still_gets_every_byte(
        s3: S3Server, bucket: str, tmp_path: Path) -> None:
    """A film read at its bit rate keeps one GET open for as long as it plays: the timeout that bounds a
    listing or a write (here 1 s) must not cut it (obstore resumes a cut read, with a GET per cut)."""
    data = bytes(range(256)) * (192 * 1024)  # 48 MiB: far more than the read-ahead and socket buffers hold
    src = tmp_path / "film.wav"
    src.write_bytes(data)
    b = Bucket(Settings(**s3.settings(bucket)), call_timeout=timedelta(seconds=1))  # type: ignore[arg-type]
    stored = await b.upload(src, "m/film.wav")
    info = FileInfo(b.url(stored.key), stored.size, stored.mtime, "audio/wav", Stored(b, stored.key, stored.etag))
    got = bytearray()

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the player never leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            got.extend(message["body"])
            await asyncio.sleep(0.02)  # 192 chunks of 256 KiB: about 4 s, four times the call timeout

    await ObjectResponse(info)({"type": "http", "method": "GET", "headers": [], "path": "/"}, receive, send)
    assert bytes(got) == data
    # One GET for all of it (a read cut by that timeout is resumed by obstore with another ranged GET).
    assert s3.requests("GET", bucket, "m/film.wav") == 1
