"""The OpenSubsonic API at /rest: an ASGI app of its own, mounted by `create_app`.

It is apart from the FastAPI routes because the protocol is: every answer is HTTP 200 in Subsonic's
envelope (XML or JSON), errors included, so neither FastAPI's validation errors nor the JSON error
envelope may answer here. `/rest/getAlbum` and `/rest/getAlbum.view` are one endpoint; parameters come
from the query string and, for POST (the `formPost` extension), from a form body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from medianest.errors import (
    DomainError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
)
from medianest.parts import Parts
from medianest.subsonic import annotation, browsing, lists, media, playlists, podcasts, queue, system
from medianest.subsonic.auth import authenticate
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.params import Params
from medianest.subsonic.protocol import (
    GENERIC,
    NOT_AUTHORIZED,
    NOT_FOUND,
    WRONG_CREDENTIALS,
    SubsonicError,
    failure,
    render,
)

log = structlog.get_logger(__name__)

ENDPOINTS: dict[str, Handler] = {
    **system.ENDPOINTS, **browsing.ENDPOINTS, **lists.ENDPOINTS, **annotation.ENDPOINTS, **playlists.ENDPOINTS,
    **media.ENDPOINTS, **queue.ENDPOINTS, **podcasts.ENDPOINTS,
}
# Answered without signing in, as the spec requires (apps ask it before they have credentials). ping is
# not: apps call it to test the credentials they were given.
PUBLIC = frozenset({"getOpenSubsonicExtensions"})
FORM = "application/x-www-form-urlencoded"


class SubsonicApp:
    def __init__(self, parts: Callable[[], Parts]) -> None:
        self.parts = parts
        self.__name__ = "subsonic"  # what the request metrics call the mount's answers (else "unmatched")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.answer(request)
        await response(scope, receive, send)

    async def answer(self, request: Request) -> Response:
        fmt = "xml"
        try:
            params = await _params(request)
            fmt = "json" if params.opt("f") == "json" else "xml"
            name = _endpoint(request)
            handler = ENDPOINTS.get(name)
            if request.method not in ("GET", "POST", "HEAD"):
                raise SubsonicError(GENERIC, f"method {request.method} is not supported; use GET or POST")
            return await self._run(request, params, fmt, name, handler)
        except SubsonicError as exc:
            return failure(exc, fmt)

    async def _run(self, request: Request, params: Params, fmt: str, name: str, handler: Handler | None,
                   ) -> Response:
        parts = self.parts()
        async with parts.sessions() as session:
            try:
                user = None if name in PUBLIC else await authenticate(session, params, parts)
                if handler is None:
                    raise SubsonicError(GENERIC, f"endpoint not supported: {name[:100]}")
                result = await handler(Call(request, parts, session, user, params, fmt))  # type: ignore[arg-type]
            except SubsonicError as exc:
                return failure(exc, fmt)
            except DomainError as exc:
                return failure(_translate(exc), fmt)
            except ValidationError as exc:  # a value the domain's schemas refuse (a name too long...)
                problem = exc.errors()[0]
                return failure(SubsonicError(GENERIC, f"{problem['loc'][-1] if problem['loc'] else 'value'}: "
                                                      f"{problem['msg']}"), fmt)
            except Exception:
                log.exception("subsonic endpoint failed", endpoint=name)
                return failure(SubsonicError(GENERIC, "internal error; the server's log says more"), fmt)
        return result if isinstance(result, Response) else render(result, fmt)


def _endpoint(request: Request) -> str:
    return request.url.path.rsplit("/", 1)[-1].removesuffix(".view")


async def _params(request: Request) -> Params:
    items: list[tuple[str, Any]] = list(request.query_params.multi_items())
    if request.method == "POST" and request.headers.get("content-type", "").startswith(FORM):
        try:
            form = await request.form()
        except Exception as exc:  # a malformed body is the client's error, not a 500
            raise SubsonicError(GENERIC, "the form body could not be read") from exc
        items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return Params(items)


def _translate(exc: DomainError) -> SubsonicError:
    """The domain's typed errors in Subsonic's codes."""
    if isinstance(exc, NotFound):
        return SubsonicError(NOT_FOUND, exc.message)
    if isinstance(exc, Unauthorized):
        return SubsonicError(WRONG_CREDENTIALS, exc.message)
    if isinstance(exc, Forbidden):
        return SubsonicError(NOT_AUTHORIZED, exc.message)
    if isinstance(exc, Unavailable):  # its folder is offline: not there now (the message says why)
        return SubsonicError(NOT_FOUND, exc.message)
    return SubsonicError(GENERIC, exc.message)  # invalid input, limits, busy encoders: the message says which
