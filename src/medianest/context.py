"""What the request being handled is, for code far from the HTTP layer: its id (logs, error bodies, the
audit log) and its scope (the client's address and user agent). `api/observer.py` sets both per request;
outside a request they are None."""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

# The id of the request being handled (None outside one): read by logs and error bodies.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# The request's ASGI scope, for who-and-where questions deep in a service (the audit log's client address).
current_scope: ContextVar[MutableMapping[str, Any] | None] = ContextVar("current_scope", default=None)


def client_ip() -> str | None:
    """The current request's client address (after `ProxyHeaders`), or None outside a request."""
    scope = current_scope.get()
    client = scope.get("client") if scope else None
    return client[0] if client else None


def user_agent() -> str | None:
    scope = current_scope.get()
    for name, value in scope["headers"] if scope else ():
        if name == b"user-agent":
            return value.decode("latin-1")[:255]
    return None
