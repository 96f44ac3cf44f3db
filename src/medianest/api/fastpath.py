"""`StreamFastPath`: plain, authorized stream requests served without FastAPI's routing and dependencies.

A player sends a burst of small Range requests while it seeks and buffers; for each, FastAPI's
route matching (a regex per route of the whole API), dependency solving and parameter validation
cost several times more than reading the bytes (see bench/range_profile.py with and without
--no-fast-path). This middleware recognises the one common shape - GET/HEAD
`/api/v1/media/{id}/stream` with credentials in `?token=` alone or in `Authorization: Bearer` - and
serves it with the same access checks and the same response class as the route. Anything else
(another query parameter such as `download`, a refused or unknown credential, a missing item) falls
through to the route, which stays the one place that decides and explains errors. Install it inside
the request-id and metrics middleware so those still see every request.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from medianest.api.routes.streaming import stream, stream_response
from medianest.errors import DomainError
from medianest.streaming.access import StreamAccess
from medianest.streaming.response import MediaFileResponse

_PATH = re.compile(r"/api/v1/media/([0-9]{1,18})/stream")
# A media token as `media_token()` writes it (a JWT: base64url and dots), alone in the query.
_QUERY = re.compile(rb"(?:token=([A-Za-z0-9_.\-]+))?")


class StreamFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await _plain_stream(scope) if scope["type"] == "http" else None
        if response is None:
            return await self.app(scope, receive, send)
        scope["endpoint"] = stream  # what routing would have set: metrics label it the same
        await response(scope, receive, send)


async def _plain_stream(scope: Scope) -> MediaFileResponse | None:
    """The response to a plain stream request that is allowed; None to leave the request to the route."""
    # Under a root path (a proxy's prefix) the route sees the path without it, and so do we.
    path = _PATH.fullmatch(scope["path"].removeprefix(scope.get("root_path", "")))
    query = _QUERY.fullmatch(scope["query_string"])
    if path is None or query is None or scope["method"] not in ("GET", "HEAD"):
        return None
    access: StreamAccess = scope["app"].state.parts.stream_access
    token = query.group(1)
    media_id = int(path.group(1))
    try:
        caller = access.caller(media_id, token.decode() if token else None, _bearer(scope))
        await access.check_user(caller)
        media, info = await access.file(media_id)
    except DomainError:
        return None
    return stream_response(media, info)


def _bearer(scope: Scope) -> str | None:
    """The credentials of `Authorization: Bearer <credentials>`, read as FastAPI's HTTPBearer does."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            credentials = credentials.strip()
            return credentials if scheme.lower() == "bearer" and credentials else None
    return None

