"""Domain errors raised by services, each with a stable `code`; they know nothing of HTTP: `api/errors.py`
maps each to its status, once.

    DomainError
    ├── NotFound(kind, id)            404 NOT_FOUND
    ├── Conflict(message)             409 CONFLICT
    ├── Forbidden(message)            403 FORBIDDEN
    ├── Unauthorized(message)         401 UNAUTHORIZED
    ├── InvalidInput(field, reason)   422 VALIDATION_ERROR
    ├── Unplayable(id, reason)        422 UNPLAYABLE (ffmpeg cannot decode the file: corrupt, no streams)
    ├── BadRequest(message)           400 BAD_REQUEST
    ├── PayloadTooLarge(message)      413 PAYLOAD_TOO_LARGE
    ├── RangeNotSatisfiable(size)     416 RANGE_NOT_SATISFIABLE
    ├── RateLimited(retry_after_s)    429 RATE_LIMITED (+ Retry-After)
    ├── DatabaseBusy(retry_after_s)   503 UNAVAILABLE (+ Retry-After; a write found no turn in time)
    ├── Busy(what, retry_after_s)     503 UNAVAILABLE (+ Retry-After; e.g. every transcoder is in use)
    ├── UpstreamError(service)        502 UPSTREAM_ERROR (the service answered with an error or garbage)
    ├── UpstreamUnavailable(service)  503 UNAVAILABLE
    ├── Unavailable(kind, id, reason) 503 UNAVAILABLE (a media item whose folder is offline)
    └── UpstreamTimeout(service)      504 UPSTREAM_TIMEOUT
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, id: object = None) -> None:
        super().__init__(f"{kind} not found", {"kind": kind, "id": None if id is None else str(id)})


class Conflict(DomainError):
    code = "CONFLICT"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"


class BadRequest(DomainError):
    code = "BAD_REQUEST"


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"


class InvalidInput(DomainError):
    code = "VALIDATION_ERROR"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", {"fields": [{"field": field, "reason": reason}]})


class RangeNotSatisfiable(DomainError):
    code = "RANGE_NOT_SATISFIABLE"

    def __init__(self, size: int) -> None:
        super().__init__("requested range not satisfiable", {"size": size})
        self.size = size


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, what: str, retry_after_s: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(f"too many {what}; try again in {retry_after_s} s", {"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s
        self.headers = headers or []  # the RateLimit-* headers of the rule that refused


class DatabaseBusy(DomainError):
    """A write waited its full time for the database (SQLite's one writer) and gave up: that write's
    transaction was not committed (an operation that commits in batches keeps the batches before it)."""

    code = "UNAVAILABLE"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the database is busy; try again in {retry_after_s} s", {"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class Busy(DomainError):
    """Every one of a bounded resource (the transcoders) is in use; the client may try again shortly."""

    code = "UNAVAILABLE"

    def __init__(self, what: str, retry_after_s: int) -> None:
        super().__init__(f"{what}; try again in {retry_after_s} s", {"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class Unplayable(DomainError):
    """The file is there but cannot be decoded (corrupt, truncated, no audio or video stream in it)."""

    code = "UNPLAYABLE"

    def __init__(self, kind: str, id: object, reason: str) -> None:
        super().__init__(reason, {"kind": kind, "id": str(id), "reason": reason})


class UpstreamUnavailable(DomainError):
    code = "UNAVAILABLE"

    def __init__(self, service: str, reason: str = "unavailable") -> None:
        super().__init__(f"{service} is {reason}", {"service": service})


class Unavailable(DomainError):
    """The thing exists but cannot be served now, for a reason a user can read (its media folder is
    offline: a share not mounted, a disk unplugged)."""

    code = "UNAVAILABLE"

    def __init__(self, kind: str, id: object, reason: str) -> None:
        super().__init__(reason, {"kind": kind, "id": str(id), "reason": reason})


class UpstreamError(DomainError):
    code = "UPSTREAM_ERROR"

    def __init__(self, service: str, reason: str = "answered with an error") -> None:
        super().__init__(f"{service} {reason}", {"service": service})


class UpstreamTimeout(DomainError):
    code = "UPSTREAM_TIMEOUT"

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} did not answer in time", {"service": service})
