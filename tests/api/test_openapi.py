"""The OpenAPI document lists every answer an operation can give, including those the framework and the
middleware give before any route code runs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from tests.conftest import Api

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
# Bytes that are not UTF-8: FastAPI cannot even decode them as JSON and answers 400 before validation.
NOT_UTF8 = b'{"name": "\xff\xfe"}'


def _json_body_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()
            if "application/json" in op.get("requestBody", {}).get("content", {})]


async def test_every_operation_with_a_json_body_documents_its_400(api: Api, app: FastAPI) -> None:
    operations = _json_body_operations(app.openapi())
    assert len(operations) >= 18  # every POST/PUT/PATCH with a JSON body
    for method, path, op in operations:
        r = await api.client.request(method, re.sub(r"\{[^}]+\}", "1", path), content=NOT_UTF8,
                                     headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "BAD_REQUEST"
        documented = op["responses"].get("400")
        assert documented, f"{method} {path} answers 400 but does not document it"
        assert documented["content"]["application/json"]["schema"] == ENVELOPE
