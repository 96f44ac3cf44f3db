"""The Subsonic response envelope in its two forms, XML (the default) and JSON (`f=json`).

Handlers build payloads in the JSON form: `{"album": {"id": "…", "song": [{…}, …]}}`. The XML form
follows from it by the rules the Subsonic schema uses: a scalar is an attribute, a dict is a child
element, a list is repeated child elements of that name, and the key "value" is the element's text
(a genre's name, a lyrics line). Every response, success or failure, is HTTP 200 (the spec says so;
a failure is `status="failed"` with an `error` element).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
from starlette.responses import Response

from medianest import __version__

API_VERSION = "1.16.1"
SERVER_TYPE = "medianest"
NAMESPACE = "http://subsonic.org/restapi"

Payload = dict[str, Any]
# orjson: a sync page is 500 songs of ~40 fields, and the standard library's encoder took a tenth of its time.
# Datetimes go through `iso` (the same text as in XML) rather than orjson's own form.
_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


class Present(dict[str, Any]):
    """A node already without None values (built so, like a song in a sync page of 500): `_present` need
    not walk it again."""

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Present:
        """`fields` without those that have no value (one level: the node's own)."""
        return cls((k, v) for k, v in fields.items() if v is not None)


# The spec's error codes (docs/Responses/error.md).
GENERIC, MISSING_PARAMETER, CLIENT_TOO_OLD, SERVER_TOO_OLD = 0, 10, 20, 30
WRONG_CREDENTIALS, TOKEN_UNSUPPORTED, MECHANISM_UNSUPPORTED, CONFLICTING_AUTH, BAD_API_KEY = 40, 41, 42, 43, 44
NOT_AUTHORIZED, NOT_FOUND = 50, 70


class SubsonicError(Exception):
    """A failed response: raised anywhere under a handler, answered once by the dispatcher."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def missing(name: str) -> SubsonicError:
    return SubsonicError(MISSING_PARAMETER, f"required parameter is missing: {name}")


def header(status: str) -> Payload:
    return {"status": status, "version": API_VERSION, "type": SERVER_TYPE, "serverVersion": __version__,
            "openSubsonic": True}


def render(payload: Payload, fmt: str, status: str = "ok") -> Response:
    """The response for `payload` in `fmt` ("json" or anything else for XML)."""
    if fmt == "json":
        body = orjson.dumps({"subsonic-response": header(status) | _present(payload)}, default=_json_default,
                            option=_JSON_OPTIONS)
        return Response(body, media_type="application/json")
    return Response(xml_document(header(status) | payload), media_type="application/xml")


def _present(node: Any) -> Any:
    """Without the fields that have no value: the spec's fields are optional, never null."""
    if isinstance(node, Present):
        return node
    if isinstance(node, dict):
        return {k: _present(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_present(v) for v in node]
    return node


def failure(error: SubsonicError, fmt: str) -> Response:
    return render({"error": {"code": error.code, "message": error.message}}, fmt, status="failed")


def xml_document(response: Payload) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>']
    _element(parts, "subsonic-response", response, NAMESPACE)
    return "".join(parts)


def _element(out: list[str], name: str, node: Payload, xmlns: str | None = None) -> None:
    attrs, children, text = [], [], None
    for key, value in node.items():
        if value is None:
            continue
        if key == "value" and not isinstance(value, dict | list):
            text = _scalar(value)
        elif isinstance(value, dict):
            children.append((key, value))
        elif isinstance(value, list):
            children.extend((key, item) for item in value)
        else:
            attrs.append(f" {key}={quoteattr(_scalar(value))}")
    ns = f' xmlns="{xmlns}"' if xmlns else ""
    out.append(f"<{name}{ns}{''.join(attrs)}")
    if not children and text is None:
        out.append("/>")
        return
    out.append(">")
    if text is not None:
        out.append(escape(_clean(text)))
    for key, child in children:
        if isinstance(child, dict):
            _element(out, key, child)
        else:
            out.append(f"<{key}>{escape(_clean(_scalar(child)))}</{key}>")
    out.append(f"</{name}>")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    return _clean(str(value))


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped; a tag holding one (they exist) must
    not make the whole response unreadable."""
    if text.isprintable():
        return text
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
