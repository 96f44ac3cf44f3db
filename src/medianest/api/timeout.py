"""`RequestTimeout`: a handler that has not started its answer within `MEDIANEST_REQUEST_TIMEOUT_S`
is cancelled and the client gets 503, instead of a connection held open for ever.

Only the time to the first byte counts: once the answer has started (a film being streamed, an
export being written), it may take as long as it needs. Socket.IO is left alone: a long-poll waits
for events on purpose.
"""

from __future__ import annotations

import asyncio

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.api.errors import error_response

log = structlog.get_logger(__name__)
EXEMPT_PREFIX = "/socket.io"


class RequestTimeout:
    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIX):
            return await self.app(scope, receive, send)
        started = asyncio.Event()

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, receive, watched))
        waiter = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait((handler, waiter), timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server gave up on the request: take the handler with us
            handler.cancel()
            raise
        finally:
            waiter.cancel()
        if handler.done() or started.is_set():
            return await handler
        handler.cancel()
        await asyncio.gather(handler, return_exceptions=True)  # let it clean up (sessions, files) first
        log.warning("request timed out", path=scope["path"], timeout_s=self.timeout_s)
        await error_response(503, "UNAVAILABLE", f"the request took longer than {self.timeout_s:g} s",
                             {"timeout_s": self.timeout_s}, headers={"Retry-After": "5"})(scope, receive, send)
