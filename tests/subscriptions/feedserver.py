"""A podcast feed server on 127.0.0.1, built from the RSS 2.0 specification and Apple's podcast tags.

Each feed is RSS 2.0 with `<enclosure url length type>` per episode, `<guid>`, `<pubDate>` (RFC 822),
`<description>` and `itunes:author`/`itunes:image`. Episodes are added while the server runs ("a new
episode appears"). Answers carry an ETag and Last-Modified that change only with the feed; a request
sending either back (If-None-Match / If-Modified-Since) gets a 304 with no body. A feed can be made to
answer 500, garbage or slowly. Every request is logged with its status.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate
from http import HTTPStatus
from typing import NamedTuple, cast
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from tests.loopback import LoopbackServer, QuietHandler, Served


@dataclass(frozen=True)
class Episode:
    guid: str
    title: str
    url: str
    published: datetime
    description: str = ""
    length: int = 0
    mime: str = "audio/mpeg"


@dataclass
class _Feed:
    title: str
    author: str
    image: str | None
    episodes: list[Episode] = field(default_factory=list)
    changed_at: float = field(default_factory=time.time)
    mode: str = "ok"  # ok | error | garbage | slow
    _cached: tuple[bytes, str] | None = None  # the XML and its ETag, until an episode is added

    def rendered(self) -> tuple[bytes, str]:
        if self._cached is None:
            body = self.xml()
            self._cached = body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        return self._cached

    def xml(self) -> bytes:
        items = "".join(
            f"<item><title>{escape(e.title)}</title><guid isPermaLink=\"false\">{escape(e.guid)}</guid>"
            f"<pubDate>{format_datetime(e.published)}</pubDate><description>{escape(e.description)}</description>"
            f"<enclosure url={quoteattr(e.url)} length=\"{e.length}\" type={quoteattr(e.mime)}/></item>"
            for e in self.episodes)
        image = f"<itunes:image href={quoteattr(self.image)}/>" if self.image else ""
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel>"
                f"<title>{escape(self.title)}</title><link>https://example.invalid/</link>"
                f"<description>Show notes of {escape(self.title)}</description>"
                f"<itunes:author>{escape(self.author)}</itunes:author>{image}{items}</channel></rss>").encode()



class Logged(NamedTuple):
    path: str
    status: int


class FeedServer(Served):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[str, _Feed] = {}
        self._log: list[Logged] = []
        self._redirects: dict[str, str] = {}
        super().__init__(_HTTPServer(self))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add_feed(self, path: str, title: str, author: str, image: str | None = None) -> str:
        with self._lock:
            self._feeds[path] = _Feed(title, author, image)
        return self.url(path)

    def add_episode(self, path: str, episode: Episode) -> None:
        """A new episode appears (first in the feed, as podcasts list them); the validators change."""
        with self._lock:
            feed = self._feeds[path]
            feed.episodes.insert(0, episode)
            feed._cached = None
            feed.changed_at = time.time() + len(feed.episodes)  # a new Last-Modified even within a second

    def redirect(self, path: str, location: str) -> str:
        """`path` answers 302 to `location`."""
        with self._lock:
            self._redirects[path] = location
        return self.url(path)

    def set_mode(self, path: str, mode: str) -> None:
        with self._lock:
            self._feeds[path].mode = mode

    def requests(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    def _answer(self, path: str, etag: str | None, since: str | None) -> tuple[int, dict[str, str], bytes, str]:
        with self._lock:
            feed = self._feeds.get(path)
            if path in self._redirects:
                self._log.append(Logged(path, 302))
                return 302, {"Location": self._redirects[path]}, b"", "ok"
            if feed is None:
                status, headers, body = 404, {}, b""
            elif feed.mode in ("error", "garbage"):
                status, headers = (500, {}) if feed.mode == "error" else (200, {"Content-Type": "application/rss+xml"})
                body = b"" if feed.mode == "error" else b"\x00\xffnot <rss at all"
            else:
                xml, tag = feed.rendered()
                modified = formatdate(feed.changed_at, usegmt=True)
                headers = {"ETag": tag, "Last-Modified": modified, "Content-Type": "application/rss+xml"}
                same = etag == tag if etag is not None else since == modified
                status, body = (304, b"") if (etag or since) and same else (200, xml)
            self._log.append(Logged(path, status))
            return status, headers, body, feed.mode if feed else "ok"


class _HTTPServer(LoopbackServer):
    def __init__(self, feeds: FeedServer) -> None:
        self.feeds = feeds
        super().__init__(_Handler)


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        feeds = cast(_HTTPServer, self.server).feeds
        path = unquote(urlsplit(self.path).path)
        if path == "/_statuses":  # for a benchmark that runs this server in a process of its own
            self._send_json(dict(Counter(str(r.status) for r in feeds.requests())))
            return
        status, headers, body, mode = feeds._answer(path, self.headers.get("If-None-Match"),
                                                    self.headers.get("If-Modified-Since"))
        if mode == "slow":
            time.sleep(3)
        self.send_response(HTTPStatus(status))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_many(feeds: int, episodes: int) -> None:
    """`python -m tests.subscriptions.feedserver FEEDS EPISODES`: serve that many feeds (paths
    /feeds/<n>.xml) until killed, after printing the port; for a benchmark, whose own process must not
    share its interpreter lock with the server."""
    server = FeedServer().start()
    for f in range(feeds):
        path = f"/feeds/{f}.xml"
        server.add_feed(path, f"Show {f}", f"Host {f}")
        for e in range(episodes):
            server.add_episode(path, Episode(
                guid=f"{f}-{e}", title=f"Episode {e} of show {f}", url=f"http://127.0.0.1:9/{f}/{e}.mp3",
                published=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=e), description="Notes. " * 20,
                length=1_000_000))
    print(server.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    serve_many(int(sys.argv[1]), int(sys.argv[2]))
