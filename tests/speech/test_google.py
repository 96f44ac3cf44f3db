"""The Google Cloud Text-to-Speech stand-in follows the published API (key header, the 5,000-byte limit, its
error shapes), and the client turns each answer into audio bytes or the domain's typed errors."""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi import FastAPI

from medianest.connections.models import ServiceConfig
from medianest.errors import UpstreamError, UpstreamUnavailable
from medianest.integrations.google_tts import GoogleTts as Client
from medianest.integrations.google_tts import Refused
from medianest.integrations.http import Breaker, CredentialsRefused, Policy, Upstream
from tests.conftest import Api, bearer
from tests.speech.conftest import GOOGLE_KEY, connect_google
from tests.speech.googletts import TOO_LONG, GoogleTts

BODY = {"input": {"text": "Hello"}, "voice": {"languageCode": "en-US"}, "audioConfig": {"audioEncoding": "MP3"}}


def _post(standin: GoogleTts, body: object, key: str | None = GOOGLE_KEY) -> httpx.Response:
    headers = {"X-Goog-Api-Key": key} if key else {}
    return httpx.post(f"{standin.url}/v1/text:synthesize", json=body, headers=headers)


def test_the_standin_answers_as_the_docs_say(google: GoogleTts, clips: dict[str, bytes]) -> None:
    ok = _post(google, BODY)
    assert ok.status_code == 200 and base64.b64decode(ok.json()["audioContent"]) == clips["MP3"]
    too_long = _post(google, {**BODY, "input": {"text": "é" * 2501}})  # 5,002 bytes in 2,501 characters
    assert too_long.status_code == 400
    assert too_long.json() == {"error": {"code": 400, "message": TOO_LONG, "status": "INVALID_ARGUMENT"}}
    assert _post(google, {**BODY, "input": {"text": "é" * 2500}}).status_code == 200  # exactly 5,000
    missing = _post(google, BODY, key=None).json()["error"]
    assert missing["code"] == 403 and missing["status"] == "PERMISSION_DENIED"
    wrong = _post(google, BODY, key="not-the-key").json()["error"]
    assert wrong["status"] == "INVALID_ARGUMENT" and wrong["details"][0]["reason"] == "API_KEY_INVALID"
    assert google.spoken == ["Hello", "é" * 2500]


def _client(url: str, key: str = GOOGLE_KEY, http: httpx.AsyncClient | None = None) -> Client:
    upstream = Upstream(http or httpx.AsyncClient(), "Google Cloud Text-to-Speech", url, Breaker(5, 30),
                        Policy(timeout_s=5, attempts=2, wait_s=0.01), {"X-Goog-Api-Key": key})
    return Client(upstream)


async def test_the_client_speaks_and_lists_voices(google: GoogleTts, clips: dict[str, bytes]) -> None:
    async with httpx.AsyncClient() as http:
        client = _client(google.url, http=http)
        assert await client.synthesize("Hallo", "de-DE", "de-DE-Standard-B") == clips["MP3"]
        voices = await client.voices("de")
    assert [v.name for v in voices] == ["de-DE-Standard-B"] and voices[0].language_codes == ("de-DE",)
    [call] = google.calls("POST", "/v1/text:synthesize")
    assert call.headers["x-goog-api-key"] == GOOGLE_KEY and "key" not in call.query  # never in the URL
    assert call.json()["voice"] == {"languageCode": "de-DE", "name": "de-DE-Standard-B"}


async def test_each_google_error_becomes_a_typed_error(google: GoogleTts) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(Refused) as too_long:
            await _client(google.url, http=http).synthesize("x" * 5001, "en-US", None)
        assert "longer than the limit of 5000 bytes" in too_long.value.message
        with pytest.raises(Refused) as no_voice:
            await _client(google.url, http=http).synthesize("Hi", "en-US", "en-US-Nobody-Z")
        assert "does not exist" in no_voice.value.message
        for key in ("wrong-key", "google-blocked-key"):
            with pytest.raises(CredentialsRefused) as refused:
                await _client(google.url, key, http=http).synthesize("Hi", "en-US", None)
            assert "credentials" in refused.value.message
        google.set_faults(fail_status=503)
        with pytest.raises(UpstreamError) as down:
            await _client(google.url, http=http).synthesize("Hi", "en-US", None)
        assert "503" in down.value.message and len(google.calls("POST", "/v1/text:synthesize")) == 6  # retried
        google.set_faults(garbage=True)
        with pytest.raises(UpstreamError, match="not JSON"):
            await _client(google.url, http=http).voices()
        google.refuse()
        with pytest.raises(UpstreamUnavailable):
            await _client(google.url, http=http).synthesize("Hi", "en-US", None)


async def test_the_connection_is_tested_with_its_sealed_key(api: Api, google: GoogleTts, app: FastAPI) -> None:
    admin = await api.setup_admin()
    service_id = await connect_google(api, admin, google.url)
    shown = (await api.client.get(f"/api/v1/services/{service_id}", headers=bearer(admin))).json()["data"]
    assert shown["kind"] == "google_tts" and shown["has_secret"] and "secret" not in shown
    async with app.state.parts.sessions() as session:
        stored = await session.get(ServiceConfig, int(service_id))
        assert stored is not None and stored.secret is not None and GOOGLE_KEY.encode() not in stored.secret
    tested = (await api.client.post(f"/api/v1/services/{service_id}/test", headers=bearer(admin))).json()["data"]
    assert tested["ok"] and tested["status"] == "up" and "3 voices" in tested["detail"]
    assert google.calls("GET", "/v1/voices")[-1].headers["x-goog-api-key"] == GOOGLE_KEY
    r = await api.client.patch(f"/api/v1/services/{service_id}", json={"secret": "not-the-key"}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    tested = (await api.client.post(f"/api/v1/services/{service_id}/test", headers=bearer(admin))).json()["data"]
    assert not tested["ok"] and tested["status"] == "degraded" and "API key not valid" in tested["detail"]
