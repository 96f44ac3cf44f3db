"""Which methods a path takes, told the same way everywhere (RFC 9110): `OPTIONS` answers 204 with
`Allow`, a 405 carries the complete `Allow`, and `HEAD` works wherever `GET` does.

Starlette matches routes one at a time: when several routes share a path (GET and PATCH on
`/playlists/{id}` are two routes), a method none of them takes is refused by the first one, whose `Allow`
names its own methods only; `OPTIONS` and `HEAD` are refused the same way. Here every route of the path
is asked. The middleware only looks at HEAD and OPTIONS requests (everything else passes untouched), and
the 405 handler only runs on a refusal, so an ordinary request pays nothing.

Install the middleware innermost: when CORS is configured, its middleware (outside this one) answers
preflights itself, and adds its headers to our answer to a plain OPTIONS.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.api.errors import error_response

# Starlette's own order, so the header reads the same on every path.
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed(routes: Sequence[BaseRoute], scope: Scope) -> set[str] | None:
    """The methods of the resource at the scope's path: of every route with the same path template as the
    most specific route that matches (`/playlists/import` is not `/playlists/{playlist_id}`), HEAD with
    GET, and OPTIONS. None when no route has this path, or when a mounted application other than static
    files answers for it (Socket.IO).

    FastAPI keeps included routers as routes of their own: `iter_route_contexts` (what FastAPI's OpenAPI
    generator walks) yields each route as it is matched, with its full path."""
    by_template: dict[str, set[str]] = {}
    for route in iter_route_contexts(routes):
        if route.matches(scope)[0] is Match.NONE:
            continue
        original = route.original_route
        if isinstance(original, Mount) and not isinstance(original.app, StaticFiles):
            return None
        methods = {"GET", "HEAD"} if isinstance(original, Mount) else route.methods or set()
        by_template.setdefault(route.path or "", set()).update(methods)
    if not by_template:
        return None
    methods = by_template[min(by_template, key=lambda template: template.count("{"))]
    return methods | {"HEAD", "OPTIONS"} if "GET" in methods else methods | {"OPTIONS"}


def allow_header(methods: set[str]) -> str:
    return ", ".join(sorted(methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m)))


class Methods:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        routes = scope["app"].router.routes
        methods = allowed(routes, scope)
        if methods is None:
            return await self.app(scope, receive, send)  # 404, or a mounted app's own answer
        if scope["method"] == "OPTIONS":
            return await Response(status_code=204, headers={"Allow": allow_header(methods)})(scope, receive, send)
        if "GET" in methods and not _takes_head(routes, scope):
            as_get = {**scope, "method": "GET"}
            return await self.app(as_get, receive, _without_body(send, scope, as_get))
        await self.app(scope, receive, send)


def _takes_head(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    """Whether a route answers HEAD itself (media streams: headers from the file, no bytes read)."""
    return any(route.matches(scope)[0] is Match.FULL for route in iter_route_contexts(routes))


def _without_body(send: Send, scope: Scope, as_get: Scope) -> Send:
    """HEAD answered by the GET route: the same status and headers (Content-Length included), no bytes.
    The route found is handed back to the HEAD request's scope, for the metrics' endpoint label."""

    async def headers_only(message: Message) -> None:
        if message["type"] == "http.response.start" and "endpoint" in as_get:
            scope["endpoint"] = as_get["endpoint"]
        elif message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return headers_only


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # A mounted app (static files) raised it: match from the application's root, as routing did.
    scope = {**request.scope, "root_path": request.scope.get("app_root_path", request.scope.get("root_path", ""))}
    methods = allowed(request.app.router.routes, scope)
    headers = {"Allow": allow_header(methods)} if methods else dict(exc.headers or {})
    return error_response(405, "METHOD_NOT_ALLOWED", "Method Not Allowed", headers=headers)


def install(app: FastAPI) -> None:
    """The 405 handler; the middleware is added with the others (`app.add_middleware(Methods)`)."""
    app.add_exception_handler(405, _method_not_allowed)
