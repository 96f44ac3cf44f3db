"""The socket side shared by the test stand-ins (media server, plex.tv, the outside services): a threaded
HTTP server on 127.0.0.1 that can cut its open connections, never looks up a name, and is quiet about
clients that hang up; a request handler base speaking HTTP/1.1 keep-alive without logging to stderr; and
`Served`, the lifecycle every stand-in has."""

from __future__ import annotations

import contextlib
import functools
import socket
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self, cast

import httpx


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # port 0 is always fresh; reuse would only hide mistakes

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket],
                        client_address: tuple[str, int] | str) -> None:
        with self._conns_lock:
            self._conns.add(cast(socket.socket, request))
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        with self._conns_lock:
            self._conns.discard(cast(socket.socket, request))
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open client socket: keep-alive and throttled handlers then end promptly."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client or the handler
                conn.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        """Bind without HTTPServer's `socket.getfqdn()`: a reverse DNS lookup could leave the machine."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up mid-response is normal in these tests (cancel, timeout); anything else is a bug."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class QuietHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 so clients keep connections alive as they do with real servers."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection must not pin a thread forever

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: each stand-in keeps its own request log; stderr noise only hides test output."""

    def handle(self) -> None:
        # the client went away (BrokenPipe/Reset) or stalled past `timeout` mid-body: nothing left to answer
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()


class Served:
    """A stand-in's lifecycle: its server is bound at construction (so the port is known before `start()`),
    serves from a daemon thread, and `stop()` is final - it cuts open connections, so a delayed or
    throttled answer cannot outlive the test. Use as a context manager."""

    def __init__(self, httpd: LoopbackServer) -> None:
        self._stopping = threading.Event()
        self._httpd = httpd
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{type(self).__name__}:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])


@functools.cache
def http() -> httpx.Client:
    """One client for the tests' plain calls to servers on 127.0.0.1. `httpx.get(...)` and a new `Client`
    each build an SSL context, loading the CA bundle (~25 ms) that a request to a local HTTP server never
    uses; over the Subsonic contract tests that was most of their time. No keep-alive: a pooled connection
    to a server that a test stopped (its port then reused) would fail the next request."""
    return httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server process started next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

