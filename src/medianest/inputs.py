"""Input rules every request shares.

NUL characters are refused everywhere: PostgreSQL cannot store them in text, so letting one through
would turn a typo into a 500 on one database and silently stored junk on the other.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

NUL = "\x00"
NO_NUL = r"^[^\x00]*$"  # the rule as a pattern, so the OpenAPI document states it too


def _document_no_nul(schema: dict[str, Any]) -> None:
    """Give every string property without a pattern of its own the NO_NUL pattern."""
    for prop in schema.get("properties", {}).values():
        for variant in [prop, *prop.get("anyOf", [])]:
            if variant.get("type") == "string" and "pattern" not in variant and "enum" not in variant:
                variant["pattern"] = NO_NUL


class Input(BaseModel):
    """Base for request bodies."""

    model_config = ConfigDict(json_schema_extra=_document_no_nul)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and NUL in value:
            raise ValueError("must not contain NUL characters")
        return value
