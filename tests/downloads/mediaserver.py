"""A real HTTP media server on 127.0.0.1 for download tests, plus helpers that make real media with ffmpeg.

yt-dlp must be tested against a real socket: its HTTP downloader resumes `.part` files with `Range`, notices
short bodies, retries, and its generic extractor sniffs Content-Type and HTML. `MediaServer` serves registered
files or bytes with the headers yt-dlp relies on (Content-Length, Accept-Ranges, ETag, Last-Modified, single
byte ranges) and lets a test switch failure modes per path at runtime: throttling (so a download can be
cancelled mid-way), dropped connections (so a resume can be checked), error statuses, redirects and an HTML page
with an embedded `<video>`; `make_hls` cuts real media into an HLS playlist and segments. Every request and
every body byte sent is logged, so tests can assert what was re-fetched.

It binds 127.0.0.1 only and never fetches anything itself; nothing here reaches beyond the loopback.
"""

from __future__ import annotations

import functools
import hashlib
import html
import mimetypes
import os
import re
import socket
import struct
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import IO, Literal, NamedTuple, cast
from urllib.parse import quote, unquote, urlsplit

from medianest.library.ffmpeg import ffmpeg_exe, run_ffmpeg
from tests.loopback import LoopbackServer, QuietHandler, Served

_COPY_CHUNK = 64 * 1024
_MAX_THROTTLE_CHUNK = 16 * 1024
_THROTTLE_TICKS_PER_S = 20  # a throttled body goes out in ~20 writes a second: smooth, and cancellable quickly


class LoggedRequest(NamedTuple):
    """One request as the server saw it; compares equal to a plain `(method, path, range)` tuple."""

    method: str
    path: str
    range: str | None


@dataclass(frozen=True)
class _Resource:
    """What a path serves: a file on disk (read at request time) or bytes held in memory."""

    content_type: str
    file: Path | None = None
    data: bytes = b""
    added_at: float = 0.0

    def size(self) -> int:
        return self.file.stat().st_size if self.file is not None else len(self.data)

    def validators(self) -> tuple[str, str]:
        """(ETag, Last-Modified): stable while the content is, so a resuming client's If-Range would hold."""
        if self.file is not None:
            st = self.file.stat()
            return f'"{st.st_size:x}-{st.st_mtime_ns:x}"', formatdate(st.st_mtime, usegmt=True)
        digest = hashlib.sha256(self.data).hexdigest()[:16]
        return f'"{digest}"', formatdate(self.added_at, usegmt=True)

    def chunks(self, start: int, length: int, chunk: int) -> Iterator[bytes]:
        """The bytes [start, start+length) in pieces of at most `chunk` bytes."""
        if self.file is None:
            for pos in range(start, start + length, chunk):
                yield self.data[pos : min(pos + chunk, start + length)]
            return
        with self.file.open("rb") as fh:
            fh.seek(start)
            left = length
            while left > 0:
                piece = fh.read(min(chunk, left))
                if not piece:  # the file shrank under us: stop rather than spin
                    return
                left -= len(piece)
                yield piece


@dataclass
class _Counter:
    """A behaviour that applies to the next `left` requests, or to all of them when `left` is None."""

    value: int
    left: int | None

    def take(self) -> bool:
        """Consume one use; False when used up."""
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


class MediaServer(Served):
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port) serving registered media, with switchable faults.

    Use as a context manager, or `start()` / `stop()`. All registration and behaviour methods are thread-safe
    and may be called while requests are in flight; a throttle change takes effect on the next chunk sent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resources: dict[str, _Resource] = {}
        self._throttles: dict[str, int] = {}
        self._drops: dict[str, _Counter] = {}
        self._fails: dict[str, _Counter] = {}
        self._redirects: dict[str, str] = {}
        self._log: list[LoggedRequest] = []
        self._sent: defaultdict[str, int] = defaultdict(int)
        super().__init__(_HTTPServer(self))  # bound now, so the URL is known before start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path`, percent-encoded (so paths with spaces or non-ASCII work)."""
        return self.base_url + quote(_norm(path))

    # -- content ---------------------------------------------------------------------------------------------

    def add_file(self, path: str, file: Path, content_type: str) -> str:
        """Serve `file` (read at request time) at `path`; returns its URL."""
        return self._add(path, _Resource(content_type, file=Path(file)))

    def add_bytes(self, path: str, data: bytes, content_type: str) -> str:
        """Serve `data` at `path`; returns its URL."""
        return self._add(path, _Resource(content_type, data=bytes(data), added_at=time.time()))

    def html_page(self, path: str, video_path: str, title: str) -> str:
        """Serve at `path` a small HTML page titled `title` embedding `video_path` in a `<video><source>`.

        This is the shape yt-dlp's generic extractor recognises (its HTML5 media parser); the `<source type>`
        is the video's registered content type so the format gets the right extension. Returns the page URL.
        """
        with self._lock:
            video = self._resources.get(_norm(video_path))
        kind = video.content_type if video else (mimetypes.guess_type(video_path)[0] or "video/mp4")
        return self.add_bytes(path, _page(title, self.url(video_path), kind).encode(), "text/html; charset=utf-8")

    def _add(self, path: str, resource: _Resource) -> str:
        with self._lock:
            self._resources[_norm(path)] = resource
        return self.url(path)

    # -- behaviours ------------------------------------------------------------------------------------------

    def throttle(self, path: str, bytes_per_s: int | None) -> None:
        """Send the body of `path` at about `bytes_per_s` (None: full speed). Applies to transfers in flight."""
        if bytes_per_s is not None and bytes_per_s <= 0:
            raise ValueError("bytes_per_s must be positive")
        with self._lock:
            if bytes_per_s is None:
                self._throttles.pop(_norm(path), None)
            else:
                self._throttles[_norm(path)] = bytes_per_s

    def drop_after(self, path: str, nbytes: int, times: int = 1) -> None:
        """The next `times` GETs of `path` announce the full Content-Length, send `nbytes` of body, then hang up.

        Later GETs are served normally, so a client that retries or resumes with `Range` can finish.
        """
        with self._lock:
            self._drops[_norm(path)] = _Counter(nbytes, times)

    def fail(self, path: str, status: int, times: int | None = None) -> None:
        """Answer requests for `path` with `status` (e.g. 404, 500): the next `times` of them, or all (None)."""
        with self._lock:
            self._fails[_norm(path)] = _Counter(status, times)

    def redirect(self, path: str, location: str) -> str:
        """Answer `path` with a 302 to `location` (any URL: this server never follows it); returns its URL."""
        with self._lock:
            self._redirects[_norm(path)] = location
        return self.url(path)

    def clear(self, path: str | None = None) -> None:
        """Remove throttle/drop/fail/redirect behaviours from `path`, or from every path."""
        with self._lock:
            for table in (self._throttles, self._drops, self._fails, self._redirects):
                if path is None:
                    table.clear()
                else:
                    table.pop(_norm(path), None)

    # -- log -------------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str) -> list[LoggedRequest]:
        """The logged requests for one path."""
        key = _norm(path)
        return [r for r in self.requests if r.path == key]

    def bytes_sent(self, path: str) -> int:
        """Body bytes handed to sockets for `path` (all requests), counted chunk by chunk as they are written.

        A chunk is counted just before its write, so the total is final once a client has the whole body; for an
        interrupted transfer it can exceed what the client read by what sat in socket buffers.
        """
        with self._lock:
            return self._sent[_norm(path)]

    def reset_log(self) -> None:
        """Forget logged requests and byte counts (e.g. after a warm-up fetch)."""
        with self._lock:
            self._log.clear()
            self._sent.clear()

    # -- used by the handler ---------------------------------------------------------------------------------

    def _begin(self, method: str, path: str,
               range_header: str | None) -> tuple[_Resource | None, int | None, int | None]:
        """Log a request and decide its fate atomically: (resource, forced status, drop-after byte count)."""
        with self._lock:
            self._log.append(LoggedRequest(method, path, range_header))
            fail = self._fails.get(path)
            if fail is not None and fail.take():
                return None, fail.value, None
            resource = self._resources.get(path)
            drop = self._drops.get(path)
            drop_at = drop.value if method == "GET" and resource and drop and drop.take() else None
            return resource, None, drop_at

    def _location(self, path: str) -> str | None:
        with self._lock:
            return self._redirects.get(path)

    def _rate(self, path: str) -> int | None:
        with self._lock:
            return self._throttles.get(path)

    def _count(self, path: str, n: int) -> None:
        with self._lock:
            self._sent[path] += n


class _HTTPServer(LoopbackServer):
    def __init__(self, media: MediaServer) -> None:
        self.media = media
        super().__init__(_Handler)


class _Handler(QuietHandler):
    @property
    def media(self) -> MediaServer:
        return cast(_HTTPServer, self.server).media

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        range_header = self.headers.get("Range")
        resource, forced, drop_at = self.media._begin(self.command, path, range_header)
        location = self.media._location(path)
        if forced is None and location is not None:
            self._send_status(HTTPStatus.FOUND, send_body, {"Location": location})
            return
        if forced is not None or resource is None:
            self._send_status(forced or HTTPStatus.NOT_FOUND, send_body)
            return
        size = resource.size()
        span = _parse_range(range_header, size)
        if isinstance(span, str):  # "unsatisfiable"
            unsatisfiable = {"Content-Range": f"bytes */{size}"}
            self._send_status(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, send_body, unsatisfiable)
            return
        start, length = self._send_headers(resource, size, span)
        if send_body:
            self._send_body(path, resource, start, length, drop_at)

    def _send_headers(self, resource: _Resource, size: int, span: tuple[int, int] | None) -> tuple[int, int]:
        """Status line and headers for a 200 or 206; returns the body's (start, length)."""
        start, end = span if span else (0, size - 1)
        length = end - start + 1
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        etag, last_modified = resource.validators()
        self.send_header("Content-Type", resource.content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        if span:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        return start, length

    def _send_body(self, path: str, resource: _Resource, start: int, length: int, drop_at: int | None) -> None:
        """Write the body chunk by chunk, honouring the throttle and a planned drop; count every byte sent."""
        budget = length if drop_at is None else min(drop_at, length)
        for piece in resource.chunks(start, budget, self._chunk_size(path)):
            self.media._count(path, len(piece))  # before the write: a client that saw the last byte sees the count
            self.wfile.write(piece)
            if not self._pace(path, len(piece)):
                self._hang_up()  # stopping: a half-sent body must not be followed by another response
                return
        if drop_at is not None:
            self._hang_up()

    def _chunk_size(self, path: str) -> int:
        rate = self.media._rate(path)
        return _COPY_CHUNK if rate is None else max(1, min(_MAX_THROTTLE_CHUNK, rate // _THROTTLE_TICKS_PER_S))

    def _pace(self, path: str, sent: int) -> bool:
        """Sleep as long as `sent` bytes take at the current rate; False when the server is stopping."""
        rate = self.media._rate(path)
        if rate is None:
            return not self.media._stopping.is_set()
        return not self.media._stopping.wait(sent / rate)

    def _hang_up(self) -> None:
        """End the connection mid-body: the client got the full Content-Length promise but not the bytes.

        A FIN (not an RST) is used on purpose: with an RST the kernel may discard bytes the client had not
        read yet, so how much of the body arrived would vary from run to run.
        """
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send_status(self, status: int, send_body: bool, extra: dict[str, str] | None = None) -> None:
        """A short plain-text answer for errors and forced statuses, with a correct Content-Length."""
        body = f"{status} {HTTPStatus(status).phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _parse_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """A single `bytes=a-b`, `bytes=a-` or `bytes=-n` as an inclusive (start, end); None means send it whole.

    Multi-range and malformed headers are ignored (200 with everything), as RFC 9110 allows; a range that
    starts past the end is "unsatisfiable" (416).
    """
    m = _RANGE.fullmatch(header.strip()) if header else None
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = m.group(1), m.group(2)
    if first == "":  # suffix range: the last n bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # invalid range: ignore the header
    return (start, end) if start < size else "unsatisfiable"


def _norm(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _page(title: str, video_url: str, content_type: str) -> str:
    t, src, kind = html.escape(title), html.escape(video_url), html.escape(content_type)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{t}</title>\n'
            f'<meta property="og:title" content="{t}">\n</head>\n<body>\n<h1>{t}</h1>\n'
            f'<video controls width="320" height="240">\n<source src="{src}" type="{kind}">\n</video>\n'
            "</body>\n</html>\n")


# -- media made with ffmpeg ----------------------------------------------------------------------------------


def make_video(path: Path, seconds: float = 2, size: str = "320x240", title: str | None = None,
               padding_bytes: int = 0) -> Path:
    """Write a small real mp4 (H.264, or MPEG-4 part 2 when this ffmpeg lacks libx264, + AAC) to `path`.

    `padding_bytes` grows the file by exactly that many bytes (at least 8) with a trailing top-level `free`
    box full of random bytes: players and yt-dlp ignore it, it costs no encoding time, and random content
    means a resume that stitches bytes in the wrong place changes the file's hash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc=size={size}:rate=15:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                *_video_codec(), "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart",
                *_title_args(title), str(path)])
    if padding_bytes > 0:
        _append_free_box(path, padding_bytes)
    return path


def make_audio(path: Path, seconds: float = 2, title: str | None = None) -> Path:
    """Write a small real audio file; the suffix picks the format: `.mp3` (LAME) or `.m4a` (AAC)."""
    codecs = {".mp3": ["-c:a", "libmp3lame", "-b:a", "96k"], ".m4a": ["-c:a", "aac", "-b:a", "96k"]}
    if path.suffix not in codecs:
        raise ValueError(f"make_audio writes .mp3 or .m4a, not {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=523:duration={seconds}", *codecs[path.suffix],
                *_title_args(title), str(path)])
    return path


def make_hls(source: Path, folder: Path, segment_s: float = 1) -> tuple[str, list[Path]]:
    """Cut `source` (a file from `make_video`) into MPEG-TS segments without re-encoding: the playlist's
    text (segment URIs are the bare file names, `#EXT-X-ENDLIST` at the end) and the segment files."""
    folder.mkdir(parents=True, exist_ok=True)
    playlist = folder / "index.m3u8"
    run_ffmpeg(["-i", str(source), "-c", "copy", "-f", "hls", "-hls_time", str(segment_s), "-hls_list_size", "0",
                "-hls_segment_filename", str(folder / "seg%d.ts"), str(playlist)])
    return playlist.read_text(), sorted(folder.glob("seg*.ts"), key=lambda p: int(p.stem[3:]))


def _title_args(title: str | None) -> list[str]:
    return ["-metadata", f"title={title}"] if title else []


def _video_codec() -> list[str]:
    if "libx264" in _encoders():
        return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    return ["-c:v", "mpeg4", "-q:v", "5", "-pix_fmt", "yuv420p"]  # always built in; mp4 plays it fine


@functools.cache
def _encoders() -> frozenset[str]:
    """Encoder names this ffmpeg build offers (builds differ: some omit GPL libx264)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True,
                         timeout=60, check=False).stdout
    return frozenset(parts[1] for line in out.splitlines() if len(parts := line.split()) >= 2)


def _append_free_box(path: Path, padding_bytes: int) -> None:
    total = max(8, padding_bytes)
    if total >= 2**32:
        raise ValueError("padding_bytes must fit a 32-bit box size")
    with path.open("ab") as fh:
        _write_box(fh, total)


def _write_box(fh: IO[bytes], total: int) -> None:
    fh.write(struct.pack(">I4s", total, b"free"))
    left = total - 8
    while left > 0:  # in pieces: a multi-megabyte os.urandom at once is fine, but needlessly holds it all
        piece = min(left, 1024 * 1024)
        fh.write(os.urandom(piece))
        left -= piece
