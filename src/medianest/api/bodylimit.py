"""`BodyLimit`: a request body larger than `MEDIANEST_MAX_BODY_BYTES` is refused with 413.

A declared Content-Length over the limit is refused before anything is read; a chunked body is
counted as it arrives and cut off at the limit, so a client cannot make the server buffer gigabytes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.api.errors import error_response


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            return await self._refuse(scope, receive, send)
        seen, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                over = True
                raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            # FastAPI turns any error while reading a body into its own 400: once over the limit, the
            # app's answer is replaced by ours.
            nonlocal started
            if over and not started:
                started = True
                return await self._refuse(scope, receive, send)
            started = started or message["type"] == "http.response.start"
            if not over:
                await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "PAYLOAD_TOO_LARGE", f"request body is larger than {self.max_bytes} bytes",
                                  {"max_bytes": self.max_bytes}, headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
