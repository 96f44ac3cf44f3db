"""The base of the outside-service stand-ins (Seerr, Plex Media Server, Uptime Kuma, OpenSubtitles): a
threaded HTTP server on 127.0.0.1 with a request log and switchable faults.

A stand-in subclasses `StandIn` and implements `answer(request) -> Reply`. The faults every stand-in has,
switchable at any time from the test thread:

- `delay_s`: wait this long before answering (a slow service);
- `fail_status`: answer every request with this status and the service's own error body (`error_body`);
- `garbage`: answer 200 with an HTML page instead of JSON (a captive portal, a proxy's error page);
- `drop`: read the request, then close the connection without a word;
- `refuse()`: stop listening, so connecting is refused (the service is down); `url` stays the same.

Nothing here makes an outgoing connection.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from tests.loopback import LoopbackServer, QuietHandler, Served

GARBAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
           b"<body><h1>Bad Gateway</h1><p>The upstream server is not answering.</p></body></html>\n")


@dataclass(frozen=True)
class Request:
    """One request as received: lower-case header names, the parsed query, the raw body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    raw_query: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Faults:
    delay_s: float = 0.0
    fail_status: int | None = None
    garbage: bool = False
    drop: bool = False


class StandIn(Served):
    """Lifecycle, request log and faults; subclasses answer the requests."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults = Faults()
        self._log: list[Request] = []
        super().__init__(_Server(self))

    # -- to implement ----------------------------------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        raise NotImplementedError

    def error_body(self, status: int) -> Any:
        """The service's own error body for `fail_status` (override to match the service); a `Reply`
        when it needs its own content type or headers."""
        return {"message": HTTPStatus(status).phrase}

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def refuse(self) -> None:
        """Stop listening: connections to `url` are refused from now on (the service is down)."""
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- log and faults ----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self.lock:
            return list(self._log)

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def reset_log(self) -> None:
        with self.lock:
            self._log.clear()

    def set_faults(self, **faults: Any) -> None:
        """e.g. `set_faults(fail_status=500)`; `set_faults()` turns every fault off."""
        with self.lock:
            self.faults = Faults(**faults)

    def _record(self, request: Request) -> Faults:
        with self.lock:
            self._log.append(request)
            return replace(self.faults)


class _Server(LoopbackServer):
    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        super().__init__(_Handler)


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        standin = cast(_Server, self.server).standin
        split = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, raw, split.query)
        faults = standin._record(request)
        if faults.delay_s and standin._stopping.wait(faults.delay_s):
            return self._hang_up()
        if faults.drop:
            return self._hang_up()
        if faults.garbage:
            return self._send(Reply(200, GARBAGE, content_type="text/html; charset=utf-8"))
        if faults.fail_status is not None:
            body = standin.error_body(faults.fail_status)
            return self._send(body if isinstance(body, Reply) else Reply(faults.fail_status, body))
        try:
            reply = standin.answer(request)
        except Exception as exc:  # a bug in a stand-in shows as a 500 naming it, not a hung test
            reply = Reply(500, {"message": f"stand-in error: {type(exc).__name__}: {exc}"})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        body = reply.body if isinstance(reply.body, bytes) else b"" if reply.body is None else \
            json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if reply.status != 204 else 0))
        self.end_headers()
        if self.command != "HEAD" and reply.status != 204:
            self.wfile.write(body)

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)

