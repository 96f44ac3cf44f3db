"""`MediaFileResponse`: a file with single and multi Range, If-Range, ETag/Last-Modified and 304s.

The multipart/byteranges layout is Starlette's (`FileResponse.generate_multipart`); the Range header
is parsed strictly (`ranges.py`), and what changes is how bytes move and how bad input is treated:
- reads are `os.pread` on one descriptor, 1 MiB at a time: on the event loop when the bytes are in
  the page cache (a copy costs less than a hop to a worker thread), in a thread when they are not;
- a client that goes away mid-body stops the reading (the server would drop the data silently);
- a malformed Range is ignored and the whole file is sent (RFC 9110 §14.2), never a 400 or 500;
- an unsatisfiable Range is a 416 in the API's error envelope with `Content-Range: bytes */size`.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from secrets import token_hex
from typing import Any
from urllib.parse import quote

from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from medianest.context import request_id
from medianest.storage.objects import Stored
from medianest.streaming.ranges import Unsatisfiable, parse_range
from medianest.text import clean_line, is_format_char

CHUNK = 1024 * 1024
# Where the kernel cannot say whether a read would wait for the disk, reads up to this size happen on
# the event loop anyway (a page-cache copy of 64 KiB takes a few µs) and bigger ones in a thread.
INLINE_READ = 64 * 1024
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)  # Linux >= 4.14
_PROBE = bytearray(1)  # scratch for the probes below; what they read is never looked at


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    mime: str
    stored: Stored | None = None  # the object, for an item kept in a bucket (streaming/objects.py)

    @property
    def etag(self) -> str:
        return f'"{self.size:x}-{int(self.mtime * 1_000_000):x}"'

    @property
    def last_modified(self) -> str:
        return _http_date(self.mtime)


@lru_cache(maxsize=4096)
def _http_date(mtime: float) -> str:
    # Formatting a date costs more than the rest of a small range request's headers together.
    return formatdate(mtime, usegmt=True)


def content_disposition(filename: str, kind: str = "attachment") -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name in `filename*`. Controls, lone surrogates and every
    format character (bidi overrides, zero-width joiners...) are dropped first: invisible in a saved
    file's name, they only make it read as something else (a U+202E shows "evil<U+202E>gpj.exe" as
    "evilexe.jpg")."""
    visible = "".join(c for c in clean_line(filename) if not is_format_char(c)) or "download"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in visible)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(visible, safe='')}"


# The request headers a byte response looks at, found in one pass over the raw list.
_WANTED = frozenset((b"range", b"if-range", b"if-none-match", b"if-modified-since"))


class MediaFileResponse(FileResponse):
    def __init__(self, info: FileInfo, headers: dict[str, str] | None = None) -> None:
        self.info = info
        self.path, self.status_code, self.filename, self.background = info.path, 200, None, None
        self.media_type, self.stat_result = info.mime, None
        extra = tuple(headers.items()) if headers else ()
        self._common = _common_headers(info, extra)
        self.raw_headers = [*self._common, (b"content-length", str(info.size).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = scope["method"] == "HEAD"
        ranges = await self._ranges_or_answer(scope, send)
        if ranges is None:
            return
        try:
            # NOFOLLOW: the path was resolved already; a symlink here was swapped in since.
            fd = os.open(self.info.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:  # removed since it was looked up: as if it had been gone then
            return await self._send_gone(send, head)
        self._client = _Client(receive)
        try:
            await self._send_ranges(send, fd, ranges, head)
        except _ClientGone:
            pass
        finally:
            self._client.close()
            os.close(fd)

    async def _send_ranges(self, send: Send, fd: int, ranges: list[tuple[int, int]], head: bool) -> None:
        if not ranges:
            await self._send_whole(send, fd, head)
        elif len(ranges) == 1:
            await self._send_single(send, fd, ranges[0], head)
        else:
            await self._send_multi(send, fd, ranges, head)

    # --- decisions -----------------------------------------------------------------------------------

    async def _ranges_or_answer(self, scope: Scope, send: Send) -> list[tuple[int, int]] | None:
        """The ranges to send ([] for the whole file), or None when the answer was a 304 or a 416, sent."""
        headers = _request_headers(scope)
        if self._not_modified(headers):
            await self._send_not_modified(send)
            return None
        ranges = self._ranges(headers)
        if ranges is None:
            await self._send_unsatisfiable(send, scope["method"] == "HEAD")
        return ranges

    def _not_modified(self, headers: dict[bytes, str]) -> bool:
        inm = headers.get(b"if-none-match")
        if inm is not None:  # weak comparison (RFC 9110 §13.1.2); it overrides If-Modified-Since
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or self.info.etag in tags
        ims = headers.get(b"if-modified-since")
        if ims is None:
            return False
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return int(self.info.mtime) <= since

    def _ranges(self, headers: dict[bytes, str]) -> list[tuple[int, int]] | None:
        """[] for the whole file, None when unsatisfiable, else merged (start, end) pairs."""
        http_range = headers.get(b"range")
        if http_range is None or self.info.size == 0:
            return []
        if_range = headers.get(b"if-range")
        if if_range is not None and not self._if_range_matches(if_range):
            return []
        try:
            return parse_range(http_range, self.info.size)
        except Unsatisfiable:
            return None

    def _if_range_matches(self, if_range: str) -> bool:
        """A strong match of the ETag or an exact Last-Modified date (RFC 9110 §13.1.5)."""
        return if_range == self.info.etag or if_range == self.info.last_modified

    # --- senders -------------------------------------------------------------------------------------

    async def _send_whole(self, send: Send, fd: int, head: bool) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await self._send_bytes(send, fd, 0, self.info.size, head, last=True)

    async def _send_single(self, send: Send, fd: int, rng: tuple[int, int], head: bool) -> None:
        start, end = rng
        headers = [*self._common, (b"content-range", f"bytes {start}-{end - 1}/{self.info.size}".encode()),
                   (b"content-length", str(end - start).encode())]
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
        first = start
        while start < end:
            if start > first:
                # A yield per MiB: a send to a closed connection can return without ever suspending
                # (granian's does), and the watcher must get a turn to see the disconnect.
                await asyncio.sleep(0)
                if self._client.gone():
                    raise _ClientGone
            size = min(CHUNK, end - start)
            chunk = _read_cached(fd, start, size)
            if chunk is None:
                # No context copy (as `to_thread` makes): a read needs none.
                chunk = await asyncio.get_running_loop().run_in_executor(None, os.pread, fd, size, start)
            if not chunk:
                raise OSError(f"{self.info.path} shrank while being sent")
            start += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": start < end or not last})

    async def _send_not_modified(self, send: Send) -> None:
        keep = {b"etag", b"last-modified", b"cache-control", b"vary"}
        headers = [(k, v) for k, v in self.raw_headers if k in keep]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_unsatisfiable(self, send: Send, head: bool) -> None:
        await _send_error(send, head, 416, "RANGE_NOT_SATISFIABLE", "requested range not satisfiable",
                          {"size": self.info.size},
                          [(b"content-range", f"bytes */{self.info.size}".encode()),
                           (b"accept-ranges", b"bytes")])

    async def _send_gone(self, send: Send, head: bool) -> None:
        await _send_error(send, head, 404, "NOT_FOUND", "media not found", {"kind": "media"}, [])

    def _with(self, *pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
        """The common headers plus `pairs` (which replace any of the same name)."""
        names = {k.encode() for k, _ in pairs}
        kept = [(k, v) for k, v in self._common if k not in names]
        return kept + [(k.encode(), v.encode()) for k, v in pairs]


@lru_cache(maxsize=4096)
def _common_headers(info: FileInfo, extra: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    """Every header but the length, built once per file version: a player's burst of ranges of one
    file shares them. Encoded directly rather than by `init_headers`: all ASCII, and no charset applies."""
    base = {"content-type": info.mime, "accept-ranges": "bytes", "etag": info.etag,
            "last-modified": info.last_modified, **dict(extra)}
    return tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in base.items())


def _read_cached(fd: int, start: int, size: int) -> bytes | None:
    """The bytes, read on the event loop when the page cache holds them; None when the read would wait
    for the disk (the caller reads in a thread then)."""
    if _NOWAIT is not None and size <= INLINE_READ:
        # Small: one non-blocking read, whose copy out of the buffer costs less than two probes.
        buf = bytearray(size)
        try:
            return bytes(buf) if os.preadv(fd, [buf], start, _NOWAIT) == size else None
        except BlockingIOError:
            return None
        except OSError:  # a file system that does not support the flag: small reads stay on the loop
            return os.pread(fd, size, start)
    return os.pread(fd, size, start) if _in_page_cache(fd, start, size) else None


def _in_page_cache(fd: int, start: int, size: int) -> bool:
    """Whether a read can be done on the event loop: its bytes are in the page cache, so it is a copy
    (about 70 µs per MiB), cheaper than a hop to a thread and back; a read that would wait for the
    disk goes to a thread so the loop stays free. The kernel is asked without blocking (RWF_NOWAIT) for
    the first and last byte: readahead fills runs of 128 KiB and more, so both ends cached almost
    always means all of it, and a wrong guess costs one blocking read, never a wrong byte."""
    if _NOWAIT is None:
        return size <= INLINE_READ
    try:
        return all(os.preadv(fd, [_PROBE], at, _NOWAIT) == 1 for at in (start, start + size - 1))
    except BlockingIOError:
        return False
    except OSError:  # a file system that does not support the flag
        return size <= INLINE_READ


class _ClientGone(Exception):
    """The client closed the connection mid-body: stop reading the file."""


class _Client:
    """Notices a client that goes away during a long body. The server's `send` then drops data without
    a word, so a player that seeks (closing the old connection) would otherwise have us read the rest
    of a range of perhaps gigabytes for nobody. Watching costs a task, so it starts only when a body
    needs a second chunk; single-chunk responses never pay for it."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._watch: asyncio.Task[None] | None = None

    def gone(self) -> bool:
        if self._watch is None:
            self._watch = asyncio.ensure_future(self._until_disconnect())
            return False
        return self._watch.done()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    async def _until_disconnect(self) -> None:
        try:
            while (await self._receive())["type"] != "http.disconnect":
                pass
        except Exception:  # noqa: S110 - a connection that cannot even be read from is gone too
            pass


def _request_headers(scope: Scope) -> dict[bytes, str]:
    """The first value of each header in `_WANTED` (as Starlette's `Headers.get` would give it)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def _send_error(send: Send, head: bool, status: int, code: str, message: str, details: dict[str, Any],
                      extra: list[tuple[bytes, bytes]]) -> None:
    """An error in the API's envelope, from inside a response that has already been chosen."""
    body = json.dumps({"error": {"code": code, "message": message, "details": details,
                                 "request_id": request_id.get()}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body, "more_body": False})
