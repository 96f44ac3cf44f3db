"""The OpenAPI document, completed with the answers the middleware can give to any operation:
429 where the API rate limit applies (authenticated operations), 413 where there is a body (the
body size limit), 503 everywhere (the request timeout)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from medianest.api.envelope import DESCRIPTIONS

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def install(app: FastAPI) -> None:
    """Wrap FastAPI's own generator: it builds and caches the document once; we complete that copy."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = generate()
        if first:
            for path in schema.get("paths", {}).values():
                for method, operation in path.items():
                    if method in _METHODS:
                        _complete(operation)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(operation: dict[str, Any]) -> None:
    codes = [503]
    if operation.get("security"):
        codes.append(429)
    if "requestBody" in operation:
        codes.append(413)
    responses = operation.setdefault("responses", {})
    for code in codes:
        responses.setdefault(str(code), {"description": DESCRIPTIONS[code], "content": _ERROR_REF})
