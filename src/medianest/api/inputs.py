"""Input rules every request shares.

NUL characters are refused everywhere: PostgreSQL cannot store them in text, so letting one through
would turn a typo into a 500 on one database and silently stored junk on the other.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, field_validator

from medianest.errors import InvalidInput

NUL = "\x00"


class Input(BaseModel):
    """Base for request bodies."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and NUL in value:
            raise ValueError("must not contain NUL characters")
        return value


async def no_nul_in_url(request: Request) -> None:
    """Global dependency: refuse NUL in the query string and path parameters."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if NUL in str(value):
            raise InvalidInput(name, "must not contain NUL characters")
