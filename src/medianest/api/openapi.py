"""The OpenAPI document, completed with the answers given before an operation's own code runs:
429 where the API rate limit applies (authenticated operations), 400 and 413 where there is a body
(FastAPI answers 400 when the bytes cannot be decoded as JSON at all, e.g. they are not UTF-8; the body
size limit answers 413), 503 everywhere (the request timeout)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from medianest.api.envelope import DESCRIPTIONS

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_BODY_UNREADABLE = "Bad request: the body could not be read as JSON (for example, bytes that are not UTF-8)"
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
        codes += [400, 413]
    responses = operation.setdefault("responses", {})
    for code in codes:
        description = _BODY_UNREADABLE if code == 400 else DESCRIPTIONS[code]
        responses.setdefault(str(code), {"description": description, "content": _ERROR_REF})
