"""Text-to-speech tests: the offline engine for real (eSpeak NG in a child process), Google Cloud
Text-to-Speech as a stand-in on 127.0.0.1, jobs run by the app's own queue consumer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medianest.config import Settings
from tests.conftest import Api, bearer, make_settings
from tests.speech.googletts import GoogleTts, make_clips

GOOGLE_KEY = "google-test-key"


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return make_clips(tmp_path_factory.mktemp("google-clips"))


@pytest.fixture
def google(clips: dict[str, bytes]) -> Iterator[GoogleTts]:
    with GoogleTts(clips, api_key=GOOGLE_KEY) as standin:
        yield standin


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    library = tmp_path / "library"
    library.mkdir()
    return make_settings(tmp_path, library, database_url, downloads_allow_private_networks=True,
                         downloads_retry_backoff_s=0.2, api_rate_limit="100000/minute",
                         # Fail fast against a stand-in that is down: one try per call, the job's own retries.
                         integrations_attempts=1, integrations_timeout_s=5)


async def connect_google(api: Api, admin: str, url: str, key: str = GOOGLE_KEY) -> str:
    r = await api.client.post("/api/v1/services", headers=bearer(admin), json={
        "kind": "google_tts", "name": "Google TTS", "url": url, "secret": key})
    assert r.status_code == 201, r.text
    service_id: str = r.json()["data"]["id"]
    return service_id


async def speak(api: Api, token: str, **body: Any) -> dict[str, Any]:
    r = await api.client.post("/api/v1/tts", json=body, headers=bearer(token))
    assert r.status_code == 202, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def refused(api: Api, token: str, status: int, **body: Any) -> dict[str, Any]:
    r = await api.client.post("/api/v1/tts", json=body, headers=bearer(token))
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    return error
