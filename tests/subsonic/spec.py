"""The OpenSubsonic OpenAPI document as a test oracle: validate JSON answers, read XML answers in JSON's shape.

`validate_json(endpoint, body)` checks a parsed `f=json` body against the schema the document gives for that
endpoint's 200 response. The document models every answer as `{"subsonic-response": oneOf[<Endpoint>Success,
SubsonicFailureResponse]}`, so a failed answer to any endpoint validates too; `validate_error(body, code)` checks
that a body is a failure (with that code). Required fields, types, enums, ranges and `date-time` formats are
enforced (`date-time` as RFC 3339: a `T` and a zone); unknown fields are allowed, as the schemas allow them.
Two tightenings of the document: the body must have its `subsonic-response` key (the document forgets to require
it, so `{}` would pass), and the payloads the document leaves as "TODO" (`videos`, `videoInfo`: no properties at
all, so anything would pass) are checked against the Subsonic 1.16.1 XSD's definitions (`_XSD_STAND_INS`).

`xml_fields(xml)` reads an XML answer into the JSON form's nested dict, typed by the same schemas:
- an element's attributes become keys, converted to the property's schema type: `integer` -> int, `number` ->
  float, `boolean` -> bool (only "true"/"false" accepted); strings and anything the schema does not name stay str;
- a child element becomes a list when its property's schema is an `array` (so one `<song>` is still a list of
  one), else a single value (repeating it is an error); an object child recurses, a scalar child is its text;
- an element's text becomes the `value` key when its schema has a `value` property (genre, lyrics, line, cue);
- a child the schema does not name becomes a list only when it repeats, its attributes stay strings, and its
  text is its value (or its `value` key, beside attributes).
XML cannot say "an empty list" (the element is just absent), so compare with `assert_same_fields(xml, body)`,
which drops empty lists from the JSON side first. The schema is the endpoint's when given, else the union of
every endpoint's (payload element names are unique across the document, so the union is unambiguous).

The document is the copy in `tests/subsonic/opensubsonic/openapi` (Apache-2.0, unchanged), or the directory
in MEDIANEST_TEST_OPENSUBSONIC_SPEC.
"""

from __future__ import annotations

import functools
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema_rs

NAMESPACE = "http://subsonic.org/restapi"
SPEC_ROOT = Path(
    os.environ.get("MEDIANEST_TEST_OPENSUBSONIC_SPEC")
    or Path(__file__).resolve().parent / "opensubsonic" / "openapi"
)
MAX_REPORTED_ERRORS = 20  # a wrong list can fail the same way a thousand times; the first few say it all
MAX_MESSAGE_CHARS = 300  # jsonschema messages quote the whole failing instance, which can be a whole album

_FAILURE = "schemas/SubsonicResponse/SubsonicFailureResponse.json"
_XSD_STAND_INS: dict[str, dict[str, Any]] = {
    # <xs:complexType name="Videos">: <video type="sub:Child" maxOccurs="unbounded"/>
    "schemas/Videos.json": {
        "type": "object",
        "properties": {"video": {"type": "array", "items": {"$ref": "./Child.json"}}},
    },
    # <xs:complexType name="VideoInfo">: captions, audioTrack, conversion (each unbounded); id required
    "schemas/VideoInfo.json": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "captions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                    "required": ["id"],
                },
            },
            "audioTrack": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "languageCode": {"type": "string"},
                    },
                    "required": ["id"],
                },
            },
            "conversion": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "bitRate": {"type": "integer"},
                        "audioTrackId": {"type": "integer"},
                    },
                    "required": ["id"],
                },
            },
        },
        "required": ["id"],
    },
}

Schema = dict[str, Any]
Located = tuple[Schema, str]  # a schema node and the URI its relative $refs resolve against
_ALTERNATIVES = "x-medianest-alternatives"  # a synthetic node's list of Located parts (see _properties)


# ---- the document -------------------------------------------------------------------------------------------


def _uri(relative: str) -> str:
    return (SPEC_ROOT / relative).resolve().as_uri()


@functools.cache
def _documents() -> dict[str, Any]:
    """Every JSON file of the document by its file URI, with the XSD stand-ins for the TODO payloads."""
    if not (SPEC_ROOT / "openapi.json").is_file():
        raise AssertionError(f"the OpenSubsonic OpenAPI document is not at {SPEC_ROOT}")
    documents = {path.resolve().as_uri(): json.loads(path.read_text()) for path in SPEC_ROOT.rglob("*.json")}
    for relative, stand_in in _XSD_STAND_INS.items():
        if "properties" not in documents[_uri(relative)]:  # the document wins once it defines the payload
            documents[_uri(relative)] = stand_in
    return documents


@functools.cache
def _registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry(list(_documents().items()), draft=jsonschema_rs.Draft4)


def _endpoint_name(endpoint: str) -> str:
    return endpoint.removeprefix("/rest/").removesuffix(".view")


@functools.cache
def _response_schema_uri(endpoint: str) -> str:
    """The URI of the schema of `endpoint`'s 200 JSON answer (`{"subsonic-response": oneOf[...]}`)."""
    name = _endpoint_name(endpoint)
    openapi_uri = _uri("openapi.json")
    path_item = _documents()[openapi_uri]["paths"].get(f"/rest/{name}")
    if path_item is None:
        raise AssertionError(f"the OpenSubsonic document has no endpoint {name!r}")
    endpoint_uri = urljoin(openapi_uri, path_item["$ref"])
    operation = _documents()[endpoint_uri].get("get")
    if operation is None:  # getTranscodeDecision: POST only, with a schema outside the usual envelope
        raise AssertionError(f"{name} has no GET operation in the OpenSubsonic document")
    response, response_uri = operation["responses"]["200"], endpoint_uri
    if "$ref" in response:
        response_uri = urljoin(endpoint_uri, response["$ref"])
        response = _documents()[response_uri]
    schema = response["content"].get("application/json", {}).get("schema")
    if schema is None:
        raise AssertionError(f"{name} answers binary data on success; check a failed answer with validate_error")
    return urljoin(response_uri, schema["$ref"])


def _branch_uri(response_uri: str, status: object) -> str:
    """The oneOf branch of a response schema that a `status` of "ok" or "failed" selects."""
    branches = _documents()[response_uri]["properties"]["subsonic-response"]["oneOf"]
    uris = [urljoin(response_uri, branch["$ref"]) for branch in branches]
    failure = _uri(_FAILURE)
    if len(uris) != 2 or failure not in uris:
        raise AssertionError(f"{response_uri}: expected oneOf[success, failure], found {uris}")
    return failure if status == "failed" else next(uri for uri in uris if uri != failure)


@functools.cache
def _validator(uri: str, *, wrapped: bool) -> jsonschema_rs.Validator:
    # In draft 4 a $ref's siblings are ignored, so further constraints sit beside it in an allOf.
    schema: Schema = {"allOf": [{"$ref": uri}]}
    if wrapped:
        schema |= {"type": "object", "required": ["subsonic-response"]}
    return jsonschema_rs.Draft4Validator(schema, registry=_registry(), validate_formats=True)


# ---- validation ---------------------------------------------------------------------------------------------


def _report(title: str, errors: list[jsonschema_rs.ValidationError], prefix: str) -> str:
    found: dict[str, None] = {}  # a field two allOf parts define (AlbumID3WithSongs' song) fails twice
    for error in errors:
        path = "/".join(str(part) for part in [prefix, *error.instance_path] if part != "")
        message = error.message
        if len(message) > MAX_MESSAGE_CHARS:  # the instance comes first, the reason last: keep both ends
            half = MAX_MESSAGE_CHARS // 2
            message = f"{message[:half]} ... {message[-half:]}"
        found[f"  at {path or '(root)'}: {message}"] = None
    lines = list(found)
    return "\n".join([f"{title}: {len(lines)} schema violation(s)", *lines[:MAX_REPORTED_ERRORS]])


def _check(title: str, response_uri: str, body: Any, *, status: object = None) -> None:
    errors = list(_validator(response_uri, wrapped=True).iter_errors(body))
    if not errors:
        return
    inner = body.get("subsonic-response") if isinstance(body, dict) else None
    if inner is not None and not isinstance(inner, dict):
        raise AssertionError(f"{title}: subsonic-response is {type(inner).__name__}, not an object: {inner!r:.200}")
    if isinstance(inner, dict):
        # "not valid under any of the schemas listed in the 'oneOf' keyword" says nothing: re-run the branch
        # the status picks, whose errors name the field.
        branch = _branch_uri(response_uri, inner.get("status") if status is None else status)
        errors = list(_validator(branch, wrapped=False).iter_errors(inner)) or errors
        raise AssertionError(_report(title, errors, "subsonic-response"))
    raise AssertionError(_report(title, errors, ""))


def validate_json(endpoint: str, body: Any) -> None:
    """Raise AssertionError, naming each bad field, unless `body` is a valid JSON answer of `endpoint`.

    `endpoint` is the method name ("getAlbum"; "getAlbum.view" and "/rest/getAlbum" work too). `body` is the
    parsed JSON; both a success and a failure (`status: "failed"` with an `error`) are valid answers.
    """
    _check(_endpoint_name(endpoint), _response_schema_uri(endpoint), body)


def validate_error(body: Any, code: int | None = None) -> None:
    """Raise AssertionError unless `body` is a valid failed answer (`status: "failed"`), with `code` if given.

    Works for every endpoint, binary ones (stream, getCoverArt...) included: their failures are this shape too.
    """
    _check("failed answer", _uri("schemas/SubsonicResponse.json"), body, status="failed")
    inner = body["subsonic-response"]
    if inner["status"] != "failed":
        raise AssertionError(f"expected a failed answer, got status {inner['status']!r}: {inner}")
    if code is not None and inner["error"]["code"] != code:
        raise AssertionError(f"expected error code {code}, got {inner['error']}")


# ---- XML ----------------------------------------------------------------------------------------------------


def _resolve(node: Schema, base: str) -> Located:
    while "$ref" in node:
        base = urljoin(base, node["$ref"])
        node = _documents()[base]
    return node, base


def _parts(node: Schema, base: str) -> list[Located]:
    """The subschemas a node combines: allOf/oneOf/anyOf, and the `_ALTERNATIVES` that `_properties` merged."""
    parts = [(part, base) for key in ("allOf", "oneOf", "anyOf") for part in node.get(key, [])]
    return parts + node.get(_ALTERNATIVES, [])


def _properties(node: Schema, base: str) -> dict[str, Located]:
    """A schema's properties, merged through $ref, allOf and oneOf.

    A name defined by several parts (`subsonic-response` in each endpoint's answer, for the union) keeps every
    definition; they sit in different files, so they are kept as (node, base) pairs rather than as one schema.
    """
    node, base = _resolve(node, base)
    properties = {name: (sub, base) for name, sub in node.get("properties", {}).items()}
    for part, part_base in _parts(node, base):
        for name, located in _properties(part, part_base).items():
            known = properties.get(name)
            properties[name] = located if known is None else ({_ALTERNATIVES: [known, located]}, base)
    return properties


def _type(node: Schema, base: str) -> str | None:
    node, base = _resolve(node, base)
    if "type" in node:
        return str(node["type"])
    return next((kind for part in _parts(node, base) if (kind := _type(*part)) is not None), None)


def _items(node: Schema, base: str) -> Located:
    node, base = _resolve(node, base)
    if "items" in node:
        return node["items"], base
    return next(_items(*part) for part in _parts(node, base) if _type(*part) == "array")


def _scalar(raw: str, located: Located | None, where: str) -> Any:
    kind = _type(*located) if located is not None else None
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        raise AssertionError(f"{where}={raw!r} is not the {kind} the schema says") from None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise AssertionError(f"{where}={raw!r} is not a boolean (true/false)")
        return raw == "true"
    return raw


def _local(tag: str) -> str:
    namespace, _, name = tag.rpartition("}")
    if namespace and namespace != "{" + NAMESPACE:
        raise AssertionError(f"<{tag}> is not in the Subsonic namespace {NAMESPACE}")
    return name


def _value(element: ET.Element, located: Located | None, where: str) -> Any:
    if located is None:  # not in the schema: attributes (and children) as they are, or the bare text
        if not element.attrib and len(element) == 0:
            return element.text or ""
        return _element(element, None, where)
    if _type(*located) == "object" or _properties(*located):
        return _element(element, located, where)
    return _scalar(element.text or "", located, where)


def _element(element: ET.Element, located: Located | None, where: str) -> dict[str, Any]:
    properties = _properties(*located) if located is not None else {}
    fields: dict[str, Any] = {
        name: _scalar(raw, properties.get(name), f"{where}@{name}") for name, raw in element.attrib.items()
    }
    children: dict[str, list[ET.Element]] = {}
    for child in element:
        children.setdefault(_local(child.tag), []).append(child)
    for tag, elements in children.items():
        child_where = f"{where}/{tag}"
        if tag in fields:
            raise AssertionError(f"{child_where} is both an attribute and a child element")
        prop = properties.get(tag)
        if prop is not None and _type(*prop) == "array":
            fields[tag] = [_value(child, _items(*prop), f"{child_where}[{i}]") for i, child in enumerate(elements)]
        elif prop is None and len(elements) > 1:
            fields[tag] = [_value(child, None, f"{child_where}[{i}]") for i, child in enumerate(elements)]
        elif len(elements) > 1:
            raise AssertionError(f"{child_where} repeats {len(elements)} times but the schema makes it one value")
        else:
            fields[tag] = _value(elements[0], prop, child_where)
    text = element.text or ""
    if "value" in properties or (located is None and text.strip()):
        fields["value"] = text
    elif text.strip():
        raise AssertionError(f"{where} has text {text.strip()[:80]!r} that its schema has no field for")
    return fields


@functools.cache
def _all_responses() -> Located:
    openapi = _documents()[_uri("openapi.json")]
    uris = []
    for path in openapi["paths"]:
        try:
            uris.append(_response_schema_uri(path))
        except AssertionError:  # binary answers, and the POST-only endpoint: no JSON schema to borrow
            continue
    return {"oneOf": [{"$ref": uri} for uri in dict.fromkeys(uris)]}, _uri("openapi.json")


def _one_response(endpoint: str) -> Located:
    uri = _response_schema_uri(endpoint)
    return {"$ref": uri}, uri


def xml_fields(xml_bytes: bytes, endpoint: str | None = None) -> dict[str, Any]:
    """The XML answer as the JSON form's dict (`{"subsonic-response": {...}}`); see the module docstring."""
    root = ET.fromstring(xml_bytes)  # noqa: S314 - our own server's answer, in a test
    if _local(root.tag) != "subsonic-response" or not root.tag.startswith("{"):
        raise AssertionError(f"the root element is <{root.tag}>, not <subsonic-response xmlns={NAMESPACE!r}>")
    response = _all_responses() if endpoint is None else _one_response(endpoint)
    return {"subsonic-response": _element(root, _properties(*response)["subsonic-response"], "subsonic-response")}


def without_empty_lists(value: Any) -> Any:
    """`value` with every empty list dropped: the JSON form's `[]` is an absent element in XML."""
    if isinstance(value, dict):
        return {key: without_empty_lists(item) for key, item in value.items() if item != []}
    if isinstance(value, list):
        return [without_empty_lists(item) for item in value]
    return value


def assert_same_fields(xml_bytes: bytes, json_body: dict[str, Any], endpoint: str | None = None) -> None:
    """Raise AssertionError, naming the differing fields, unless the XML answer says what the JSON one says."""
    differences = list(_differences(xml_fields(xml_bytes, endpoint), without_empty_lists(json_body), ""))
    if differences:
        shown = "\n".join(f"  {line}" for line in differences[:MAX_REPORTED_ERRORS])
        raise AssertionError(f"XML and JSON answers differ in {len(differences)} place(s):\n{shown}")


def _differences(xml: Any, json_: Any, path: str) -> Iterator[str]:
    if isinstance(xml, dict) and isinstance(json_, dict):
        for key in sorted(xml.keys() | json_.keys()):
            if key not in json_:
                yield f"{path}/{key}: only in XML ({xml[key]!r})"
            elif key not in xml:
                yield f"{path}/{key}: only in JSON ({json_[key]!r})"
            else:
                yield from _differences(xml[key], json_[key], f"{path}/{key}")
    elif isinstance(xml, list) and isinstance(json_, list) and len(xml) == len(json_):
        for index, (left, right) in enumerate(zip(xml, json_, strict=True)):
            yield from _differences(left, right, f"{path}[{index}]")
    elif xml != json_ or (type(xml) is not type(json_) and not _same_number(xml, json_)):
        yield f"{path}: XML {xml!r} != JSON {json_!r}"


def _same_number(left: Any, right: Any) -> bool:
    numeric = (int, float)
    both = isinstance(left, numeric) and isinstance(right, numeric)
    return both and not isinstance(left, bool) and not isinstance(right, bool) and left == right
