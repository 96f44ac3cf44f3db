"""schemathesis over the whole OpenAPI document, authenticated, against the real server:
no 500s, only documented status codes, bodies and headers that match the schema; undeclared methods
answered 405 with `Allow`, and OPTIONS with an `Allow` naming exactly the documented methods.

The operations are driven through Hypothesis directly (schemathesis' pytest plugin does not load on
this pytest); each operation is its own test so a failure names it. The method probes are the cases of
schemathesis' coverage phase for undeclared methods, as `schemathesis run` sends them.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import CoverageScenario

from tests.server.conftest import LiveServer

EXAMPLES_PER_OPERATION = 30
# An M3U8 playlist (the import's body) is text: send it as schemathesis sends text/plain.
schemathesis.serializer.alias("audio/x-mpegurl", "text/plain")
# Whether a download URL is accepted depends on what its host resolves to and on the allow-list, which
# no schema can state: a schema-valid URL may rightly get 422. Every other check still runs on these.
POLICY_CHECKED = {("GET", "/api/v1/downloads/preview"), ("POST", "/api/v1/downloads")}
# Likewise for a subscription's address (the same checks, before it is read).
POLICY_CHECKED |= {("POST", "/api/v1/subscriptions")}
# Likewise for text to speech: the language and voice the engine really has, the text holding a word, a
# page's URL and what it holds.
POLICY_CHECKED |= {("POST", "/api/v1/tts")}
# Likewise the file decides whether a transcode's parameters fit it: how many audio tracks it has, how
# long it is (an `offset` past its end), how large its picture is (an HLS rendition may not upscale).
POLICY_CHECKED |= {("GET", "/api/v1/media/{media_id}/stream"), ("HEAD", "/api/v1/media/{media_id}/stream"),
                   ("GET", "/api/v1/media/{media_id}/playback"),
                   ("GET", "/api/v1/media/{media_id}/hls/{variant}/index.m3u8"),
                   ("GET", "/api/v1/media/{media_id}/hls/{variant}/init.mp4"),
                   ("GET", "/api/v1/media/{media_id}/hls/{variant}/{segment}.m4s")}
# These call an outside service that fuzzed connections point nowhere (the live server's proxy variables
# refuse every host but loopback): their documented 502/503/504 is the right answer, so the "no server
# error" check stays off for them; an undocumented status, a 500 or a bad body still fails.
UPSTREAM_CALLING = {("GET", "/api/v1/plex/libraries"), ("GET", "/api/v1/requests/search"),
                    ("POST", "/api/v1/requests"), ("DELETE", "/api/v1/requests/{request_id}"),
                    ("GET", "/api/v1/media/{media_id}/subtitles/search"),
                    ("POST", "/api/v1/media/{media_id}/subtitles"), ("GET", "/api/v1/search/remote"),
                    ("POST", "/api/v1/tts"), ("GET", "/api/v1/tts/voices")}


def _spec() -> dict[str, Any]:
    from medianest.app import create_app
    from medianest.config import Settings

    spec: dict[str, Any] = create_app(Settings(scan_on_start=False)).openapi()
    return spec


def _operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in _spec()["paths"].items() for method in ops]


def _json_body_operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in _spec()["paths"].items() for method, op in ops.items()
            if "application/json" in op.get("requestBody", {}).get("content", {})]


def not_an_internal_error(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """For operations whose 502/503/504 is expected: anything but a 500 (our own failure)."""
    if response.status_code == 500:
        raise AssertionError(f"500 from {case.method} {case.path}: {response.text[:300]}")
    return None


@pytest.fixture(scope="session")
def api_schema(live_server: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.base_url}/api/openapi.json")


class Fuzzer:
    """The fuzzing runs as an admin of its own, and never against itself or the live server's admin.

    Fuzzed calls include signing out everywhere and changing a user's password, each of which now ends
    the tokens concerned at once. Had the fuzzing kept the live server admin's token, its first sign-out
    would have left every later operation answering a documented 401, checking nothing. So the fuzzing
    admin signs in again after its own sign-out everywhere, and a user id naming it or the live server's
    admin is pointed at a stand-in admin made for the purpose: the operations are still fuzzed, only not
    at an account the tests depend on."""

    PASSWORD = "fuzzing-password"

    def __init__(self, live_server: LiveServer) -> None:
        self.base, admin = live_server.base_url, live_server.headers()
        me = httpx.get(f"{self.base}/api/v1/auth/me", headers=admin).json()["data"]
        ids = [me["id"]]
        for name in ("fuzzer", "stand-in"):
            r = httpx.post(f"{self.base}/api/v1/users", headers=admin,
                           json={"username": f"{name}-admin", "password": self.PASSWORD, "role": "admin"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["data"]["id"])
        *self.protected_users, self.stand_in_user = ids
        self.sign_in()

    def sign_in(self) -> None:
        r = httpx.post(f"{self.base}/api/v1/auth/login", json={"username": "fuzzer-admin", "password": self.PASSWORD})
        assert r.status_code == 200, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['data']['access_token']}"}

    def aim(self, case: schemathesis.Case) -> None:
        """Point a case that names a protected user at the stand-in."""
        for name, value in (case.path_parameters or {}).items():
            if name == "user_id" and _same_id(value, self.protected_users):
                case.path_parameters[name] = self.stand_in_user

    def after(self, case: schemathesis.Case) -> None:
        if (case.method.upper(), case.path) == ("DELETE", "/api/v1/auth/sessions"):
            self.sign_in()  # it signed the fuzzing admin out everywhere, as it should


def _same_id(value: Any, ids: list[str]) -> bool:
    try:
        return int(str(value).strip()) in {int(i) for i in ids}
    except ValueError:
        return False


@pytest.fixture(scope="session")
def fuzzer(live_server: LiveServer) -> Fuzzer:
    return Fuzzer(live_server)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_conforms_to_the_schema(method: str, path: str, api_schema: Any, live_server: LiveServer,
                                          fuzzer: Fuzzer) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    # derandomize: every CI run tries the same examples, so a failure is reproducible, never flaky.
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True,
              database=None)
    def check(case: schemathesis.Case) -> None:
        excluded = [positive_data_acceptance] if (method, path) in POLICY_CHECKED else []
        more = []
        if (method, path) in UPSTREAM_CALLING:
            excluded.append(not_a_server_error)
            more.append(not_an_internal_error)
        fuzzer.aim(case)
        try:
            case.call_and_validate(headers=fuzzer.headers, excluded_checks=excluded, additional_checks=more)
        finally:
            fuzzer.after(case)

    check()
    # The fuzzing's own access held through every case of this operation (a 401 for it checks nothing).
    assert httpx.get(f"{live_server.base_url}/api/v1/auth/me", headers=fuzzer.headers).status_code == 200


def test_the_document_lists_every_route(live_server: LiveServer) -> None:
    spec = httpx.get(f"{live_server.base_url}/api/openapi.json").json()
    assert "/api/v1/media/{media_id}/stream" in spec["paths"]
    assert {"get", "head"} <= set(spec["paths"]["/api/v1/media/{media_id}/stream"])


@pytest.mark.parametrize("path", sorted({path for _, path in _operations()}))
def test_undeclared_methods_and_options_answer_with_the_complete_allow(
        path: str, api_schema: Any, fuzzer: Fuzzer) -> None:
    """Every method the document does not declare for the path (OPTIONS and TRACE included): a 405 with
    `Allow` (unsupported_method), and OPTIONS' `Allow` names exactly the documented ones
    (allow_header_conformance). Path-level: one operation of the path stands for all."""
    operation = next(iter(api_schema[path].values()))
    generation = api_schema.config.generation_for(operation=operation, phase="coverage")
    cases = [case for case in api_schema.iter_coverage_cases(operation, generation_modes=[GenerationMode.NEGATIVE],
                                                             generation_config=generation)
             if case.meta.phase.data.scenario == CoverageScenario.UNSPECIFIED_HTTP_METHOD]
    assert any(case.method == "OPTIONS" for case in cases), "schemathesis generated no OPTIONS probe"
    for case in cases:
        case.call_and_validate(headers=fuzzer.headers, checks=[unsupported_method, allow_header_conformance])


# Bytes that are not UTF-8 cannot even be decoded as JSON: FastAPI answers 400 before any validation.
NOT_UTF8 = b'{"name": "\xff\xfe"}'


@pytest.mark.parametrize(("method", "path"), _json_body_operations())
def test_a_body_that_is_not_json_gets_a_documented_answer(
        method: str, path: str, api_schema: Any, live_server: LiveServer, fuzzer: Fuzzer) -> None:
    """What schemathesis' negative fuzzing sends now and then (it found 18 such operations)."""
    operation = api_schema[path][method]
    url = live_server.base_url + re.sub(r"\{[^}]+\}", "1", path)
    response = httpx.request(method, url, content=NOT_UTF8,
                             headers={**fuzzer.headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    case = operation.Case(media_type="application/json")
    case.validate_response(response, checks=[status_code_conformance, content_type_conformance,
                                             response_schema_conformance])
