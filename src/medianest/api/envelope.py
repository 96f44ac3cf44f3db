"""The success and error envelopes of the API contract, and the OpenAPI `responses` helper."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int
    has_more: bool


class Envelope(BaseModel, Generic[T]):
    data: T
    meta: dict[str, Any] = Field(default_factory=dict)


class Page(BaseModel, Generic[T]):
    data: list[T]
    meta: PageMeta


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def ok(data: T, **meta: Any) -> Envelope[T]:
    return Envelope[T](data=data, meta=meta)


def page(items: list[T], *, page: int, per_page: int, total: int) -> Page[T]:
    meta = PageMeta(page=page, per_page=per_page, total=total, has_more=page * per_page < total)
    return Page[T](data=items, meta=meta)


DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large",
    416: "Range not satisfiable",
    422: "Validation error",
    429: "Rate limited",
    500: "Internal error",
    502: "The outside service answered with an error",
    503: "Unavailable",
    504: "The outside service did not answer in time",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries, in the error envelope, for the given status codes."""
    return {code: {"model": ErrorEnvelope, "description": DESCRIPTIONS[code]} for code in codes}
