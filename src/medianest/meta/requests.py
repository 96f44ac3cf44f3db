"""`RequestObserver`: every HTTP request gets an id (echoed in `X-Request-ID`, put in logs and error
bodies) and is counted in the Prometheus metrics - in one pure ASGI middleware.

One middleware, not asgi-correlation-id plus a metrics one: each wraps `send` in its own closure and
parses headers its own way, and on a 4 KiB Range request the two cost about 8.5 µs of the app's 34 µs
(bench/range_profile.py). Doing both in one pass costs about 2 µs.
"""

from __future__ import annotations

import re
import time
from contextvars import ContextVar
from secrets import token_hex

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.meta.metrics import Metrics

HEADER = b"x-request-id"
# The id of the request being handled (None outside one): read by logs and error bodies.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# A caller's own id is kept when it is this tame (it goes into headers and logs); otherwise ours is used.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        rid = _incoming(scope["headers"]) or token_hex(16)  # 128 random bits, cheaper than a uuid4
        # Not reset on the way out: the 500 handler runs outside this middleware and still needs the id,
        # and a server runs each request in a context of its own.
        request_id.set(rid)
        start = time.perf_counter()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                endpoint = getattr(scope.get("endpoint"), "__name__", "unmatched")
                self.metrics.observe(scope["method"], endpoint, message["status"], time.perf_counter() - start)
                message["headers"] = [*message.get("headers", ()), (HEADER, rid.encode())]
            await send(message)

        await self.app(scope, receive, observe)


def _incoming(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == HEADER:
            text = value.decode("latin-1")
            return text if _SANE.fullmatch(text) else None
    return None
