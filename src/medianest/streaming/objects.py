"""`ObjectResponse`: a media item kept in a bucket, streamed with the same answers a local file gets.

Proxied, by default: `MediaFileResponse` decides (304, If-Range, single and multi Range, 416) from
the size and dates the scan listed, and each range is one ranged GET of exactly that version (If-Match
on its ETag), relayed a chunk at a time. Proxying is the default because it works wherever MediaNest
works: the bucket may sit on a private network the players cannot reach (compose's MinIO does), and
the server's answers stay the same for both kinds of storage. `MEDIANEST_S3_REDIRECT=true` sends
players a 307 to a presigned URL instead (after the same access check), which takes the bytes off this
server when the bucket is reachable from the players.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.types import Receive, Scope, Send

from medianest.errors import Unavailable
from medianest.storage.objects import ObjectChanged, Stored
from medianest.streaming.response import (
    FileInfo,
    MediaFileResponse,
    _Client,
    _ClientGone,
    _send_error,
)

# A bucket that cannot be reached now is asked again after this long (what the 503 tells players).
RETRY_AFTER_S = 30
# Chunks (256 KiB or more each) read ahead from the bucket per response: a few MiB in memory at most.
AHEAD = 16


def byte_response(info: FileInfo, headers: dict[str, str] | None = None) -> MediaFileResponse:
    """The response for a file's bytes, wherever it is kept."""
    return ObjectResponse(info, headers) if info.stored is not None else MediaFileResponse(info, headers)


class ObjectResponse(MediaFileResponse):
    def __init__(self, info: FileInfo, headers: dict[str, str] | None = None) -> None:
        if info.stored is None:
            raise ValueError("an ObjectResponse needs an object")
        super().__init__(info, headers)
        self.stored: Stored = info.stored
        self._first: tuple[tuple[int, int], AsyncIterator[bytes]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = scope["method"] == "HEAD"
        if self.stored.redirect:
            return await self._send_redirect(send)
        ranges = await self._ranges_or_answer(scope, send)
        if ranges is None:
            return
        try:
            await self._open_first(ranges, head)
        except ObjectChanged:  # rewritten or removed since the last scan: as a local file gone
            return await self._send_gone(send, head)
        except Unavailable as exc:
            return await _send_error(send, head, 503, "UNAVAILABLE", exc.message, exc.details,
                                     [(b"retry-after", str(RETRY_AFTER_S).encode())])
        self._client = _Client(receive)
        try:
            await self._send_ranges(send, -1, ranges, head)
        except _ClientGone:
            pass
        finally:
            self._client.close()
            if self._first is not None:
                await _close(self._first[1])

    async def _open_first(self, ranges: list[tuple[int, int]], head: bool) -> None:
        """The first range's GET, before any header is sent: a bucket that is down or an object that
        changed is then a clean error answer, not a cut connection."""
        first = ranges[0] if ranges else (0, self.info.size)
        if head or first[0] >= first[1]:
            return
        self._first = (first, await self._open(*first))

    async def _open(self, start: int, end: int) -> AsyncIterator[bytes]:
        whole = start == 0 and end == self.info.size  # a plain GET: some servers copy the object for a Range
        return await self.stored.bucket.open(self.stored.key, start, None if whole else end, self.stored.etag)

    async def _send_bytes(self, send: Send, fd: int, start: int, end: int, head: bool, last: bool) -> None:
        if head or start >= end:
            if last:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if self._first is not None and self._first[0] == (start, end):
            chunks, self._first = self._first[1], None
        else:
            chunks = await self._open(start, end)
        try:
            await self._relay(send, chunks, start, end, last)
        finally:
            await _close(chunks)

    async def _relay(self, send: Send, chunks: AsyncIterator[bytes], start: int, end: int, last: bool) -> None:
        at = start
        async with _ReadAhead(chunks) as ahead:
            async for chunk in ahead:
                if at > start:
                    await asyncio.sleep(0)  # as for a local file: let the watcher see a client that left
                    if self._client.gone():
                        raise _ClientGone
                at += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": at < end or not last})
        if at != end:
            raise OSError(f"{self.stored.key}: the bucket sent {at - start} bytes of {end - start}")

    async def _send_redirect(self, send: Send) -> None:
        try:
            url = await self.stored.bucket.presign(self.stored.key, public=True)
        except Exception:  # presigning is local (no call to the bucket): only a broken configuration fails
            return await _send_error(send, False, 503, "UNAVAILABLE", "the bucket is not configured usably",
                                     {"kind": "bucket"}, [])
        headers = [(b"location", url.encode()), (b"cache-control", b"private, no-store"),
                   (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 307, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _close(chunks: AsyncIterator[bytes]) -> None:
    """Stop a GET early (a client gone, an error): its connection goes back or is dropped now."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


class _ReadAhead:
    """The chunks, read from the bucket in a task of its own while the ones before are being sent:
    without it, the bucket's connection idled while the client's drained, and the two took turns (a
    whole file came at half the speed of a direct read). At most AHEAD chunks wait in memory. Leaving
    the block (the end, an error, a client gone) stops the reading and then closes the GET."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(AHEAD)
        self.task: asyncio.Future[None] | None = None

    async def __aenter__(self) -> _ReadAhead:
        self.task = asyncio.ensure_future(self._pump())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await _close(self.chunks)  # only now: the pump may have been inside it until it stopped

    async def _pump(self) -> None:
        try:
            async for chunk in self.chunks:
                await self.queue.put(chunk)
            await self.queue.put(None)
        except Exception as exc:  # handed to the reader, which raises it
            await self.queue.put(exc)

    def __aiter__(self) -> _ReadAhead:
        return self

    async def __anext__(self) -> bytes:
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, Exception):
            raise item
        return item
