"""`MediaFileResponse`: a file with single and multi Range, If-Range, ETag/Last-Modified and 304s.

Range parsing and the multipart body layout are Starlette's (`FileResponse`); what changes is how bytes
move and how bad input is treated:
- reads are `os.pread` on one descriptor: small ranges are read inline (a page-cache hit costs less
  than a hop to a worker thread), large ones in a thread, 1 MiB at a time;
- a malformed Range is ignored and the whole file is sent (RFC 9110 §14.2), never a 400 or 500;
- an unsatisfiable Range is a 416 in the API's error envelope with `Content-Range: bytes */size`.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from secrets import token_hex
from urllib.parse import quote

from asgi_correlation_id import correlation_id
from starlette.datastructures import Headers
from starlette.responses import FileResponse, MalformedRangeHeader
from starlette.responses import RangeNotSatisfiable as _Unsatisfiable
from starlette.types import Receive, Scope, Send

# Reads up to this size happen on the event loop: a page-cache memcpy of 64 KiB takes a few µs,
# far less than handing the read to a thread. Bigger reads go to a thread so the loop stays free.
INLINE_READ = 64 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    mime: str

    @property
    def etag(self) -> str:
        return f'"{self.size:x}-{int(self.mtime * 1_000_000):x}"'

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


def content_disposition(filename: str, kind: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name in `filename*`."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MediaFileResponse(FileResponse):
    def __init__(self, info: FileInfo, headers: dict[str, str] | None = None) -> None:
        self.info = info
        base = {"accept-ranges": "bytes", "etag": info.etag, "last-modified": info.last_modified,
                "content-length": str(info.size), **(headers or {})}
        self.path, self.status_code, self.filename, self.background = info.path, 200, None, None
        self.media_type = info.mime
        self.init_headers(base)
        self.stat_result = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        head = scope["method"] == "HEAD"
        if self._not_modified(headers):
            return await self._send_not_modified(send)
        ranges = self._ranges(headers)
        if ranges is None:
            return await self._send_unsatisfiable(send)
        fd = os.open(self.info.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            if not ranges:
                await self._send_whole(send, fd, head)
            elif len(ranges) == 1:
                await self._send_single(send, fd, ranges[0], head)
            else:
                await self._send_multi(send, fd, ranges, head)
        finally:
            os.close(fd)

    # --- decisions -----------------------------------------------------------------------------------

    def _not_modified(self, headers: Headers) -> bool:
        inm = headers.get("if-none-match")
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or self.info.etag in tags
        ims = headers.get("if-modified-since")
        if ims is None:
            return False
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return int(self.info.mtime) <= since

    def _ranges(self, headers: Headers) -> list[tuple[int, int]] | None:
        """[] for the whole file, None when unsatisfiable, else merged (start, end) pairs."""
        http_range = headers.get("range")
        if http_range is None or self.info.size == 0:
            return []
        if_range = headers.get("if-range")
        if if_range is not None and not self._should_use_range(if_range):
            return []
        try:
            return self._parse_range_header(http_range, self.info.size)
        except MalformedRangeHeader:
            return []
        except _Unsatisfiable:
            return None

    # --- senders -------------------------------------------------------------------------------------

    async def _send_whole(self, send: Send, fd: int, head: bool) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await self._send_bytes(send, fd, 0, self.info.size, head, last=True)

    async def _send_single(self, send: Send, fd: int, rng: tuple[int, int], head: bool) -> None:
        start, end = rng
        headers = self._with(("content-range", f"bytes {start}-{end - 1}/{self.info.size}"),
                             ("content-length", str(end - start)))
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        await self._send_bytes(send, fd, start, end, head, last=True)

    async def _send_multi(self, send: Send, fd: int, ranges: list[tuple[int, int]], head: bool) -> None:
        boundary = token_hex(13)
        length, part_header = self.generate_multipart(ranges, boundary, self.info.size, self.info.mime)
        headers = self._with(("content-type", f"multipart/byteranges; boundary={boundary}"),
                             ("content-length", str(length)))
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        if head:
            return await send({"type": "http.response.body", "body": b"", "more_body": False})
        for start, end in ranges:
            await send({"type": "http.response.body", "body": part_header(start, end), "more_body": True})
            await self._send_bytes(send, fd, start, end, False, last=False)
            await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
        await send({"type": "http.response.body", "body": f"--{boundary}--".encode(), "more_body": False})

    async def _send_bytes(self, send: Send, fd: int, start: int, end: int, head: bool, last: bool) -> None:
        if head or start >= end:
            if last:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        while start < end:
            size = min(CHUNK, end - start)
            if size <= INLINE_READ:
                chunk = os.pread(fd, size, start)
            else:
                chunk = await asyncio.to_thread(os.pread, fd, size, start)
            if not chunk:
                raise OSError(f"{self.info.path} shrank while being sent")
            start += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": start < end or not last})

    async def _send_not_modified(self, send: Send) -> None:
        keep = {b"etag", b"last-modified", b"cache-control", b"vary"}
        headers = [(k, v) for k, v in self.raw_headers if k in keep]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_unsatisfiable(self, send: Send) -> None:
        body = json.dumps({"error": {"code": "RANGE_NOT_SATISFIABLE", "message": "requested range not satisfiable",
                                     "details": {"size": self.info.size},
                                     "request_id": correlation_id.get()}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"content-range", f"bytes */{self.info.size}".encode()), (b"accept-ranges", b"bytes")]
        await send({"type": "http.response.start", "status": 416, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _with(self, *pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
        names = {k.encode() for k, _ in pairs}
        kept = [(k, v) for k, v in self.raw_headers if k not in names]
        return kept + [(k.encode(), v.encode()) for k, v in pairs]
