"""The one place where exceptions become HTTP responses in the error envelope."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medianest.context import request_id
from medianest.errors import (
    BadRequest,
    Busy,
    Conflict,
    DatabaseBusy,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RateLimited,
    Unauthorized,
    Unavailable,
    Unplayable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    502: "UPSTREAM_ERROR",
    503: "UNAVAILABLE",
    504: "UPSTREAM_TIMEOUT",
}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}, "request_id": request_id.get()}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {}
    if isinstance(exc, RangeNotSatisfiable):
        headers["Content-Range"] = f"bytes */{exc.size}"
    if isinstance(exc, RateLimited | DatabaseBusy | Busy):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, RateLimited):
        headers.update((k.decode(), v.decode()) for k, v in exc.headers)
    status = status_of(exc)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, exc.code, exc.message, exc.details, headers)


# The one place domain errors meet HTTP: each one's status (a subclass takes its nearest listed ancestor's).
STATUS: dict[type[DomainError], int] = {
    DomainError: 500, BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409,
    PayloadTooLarge: 413, RangeNotSatisfiable: 416, InvalidInput: 422, Unplayable: 422, RateLimited: 429,
    UpstreamError: 502,
    UpstreamUnavailable: 503, Unavailable: 503, DatabaseBusy: 503, Busy: 503, UpstreamTimeout: 504,
}


def status_of(exc: DomainError) -> int:
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "reason": err.get("msg", "invalid")}
        for err in exc.errors()
    ]
    return error_response(422, "VALIDATION_ERROR", "request validation failed", {"fields": fields})


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.lower()
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path)
    rid = request_id.get()
    # A 500 is rendered outside the middleware that adds the header to every other response.
    headers = {"X-Request-ID": rid} if rid else None
    return error_response(500, "INTERNAL_ERROR", "internal server error", headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
