"""The download tests' `MediaServer` (tests/downloads/mediaserver.py) as a process of its own on a host's
address, for the multi-host tests: `python -m tests.multihost.mediahost ADDRESS PORT FILE RATE PATH...`
serves FILE at each PATH, each transfer throttled to RATE bytes a second (0: full speed), until SIGTERM.

MediaServer binds 127.0.0.1 (its stand-ins must never listen beyond the loopback); here it runs inside a
network namespace made by the test, where the host's one address is as private as a loopback, and is bound
on that address instead so that the worker hosts can reach it.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from tests.downloads.mediaserver import MediaServer, _HTTPServer


class _OnAddress(_HTTPServer):
    """MediaServer's HTTP server, bound on `address` rather than 127.0.0.1."""

    def __init__(self, media: MediaServer, address: tuple[str, int]) -> None:
        self._address = address
        super().__init__(media)

    def server_bind(self) -> None:
        self.server_address = self._address
        super().server_bind()


class HostedMediaServer(MediaServer):
    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__()
        self._httpd.server_close()  # the loopback socket MediaServer bound: replaced before it serves
        self._httpd = _OnAddress(self, address)


def main(argv: list[str]) -> None:
    address, port, file, rate, *paths = argv
    server = HostedMediaServer((address, int(port)))
    for path in paths:
        server.add_file(path, Path(file), "video/mp4")
        if int(rate) > 0:
            server.throttle(path, int(rate))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(f"serving {len(paths)} paths on {address}:{port}", flush=True)
        while not stop.wait(0.5):  # woken now and then, so the signal's handler gets its turn
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
