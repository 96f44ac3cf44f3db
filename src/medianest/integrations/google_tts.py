"""A client of Google Cloud Text-to-Speech's REST API v1 (cloud.google.com/text-to-speech/docs/reference/rest).

  POST /v1/text:synthesize  {input: {text}, voice: {languageCode, name?}, audioConfig: {audioEncoding}}
                            -> {audioContent: <base64 of the audio, with its container's header>}
  GET  /v1/voices?languageCode=   -> {voices: [{languageCodes, name, ssmlGender, naturalSampleRateHertz}]}
The API key goes in the `X-Goog-Api-Key` header (not the URL, where logs would keep it). `input.text` is
limited to 5,000 bytes. Errors are `{"error": {"code", "message", "status"}}`: a wrong key is 400
INVALID_ARGUMENT with the reason API_KEY_INVALID in `details`, a missing or restricted one 403
PERMISSION_DENIED, too long a text or an unknown voice 400 INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import httpx

from medianest.errors import UpstreamError
from medianest.integrations.http import CredentialsRefused, Upstream
from medianest.text import clean_optional

MAX_INPUT_BYTES = 5000
# About 5 minutes of speech per request at most; anything far larger is not an answer to it.
MAX_AUDIO_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class GoogleVoice:
    name: str
    language_codes: tuple[str, ...]
    gender: str | None
    sample_rate: int | None


class Refused(UpstreamError):
    """Google refused the request itself (400 INVALID_ARGUMENT: an unknown voice, too long a text): asking
    again will not help. `message` carries Google's own words."""


class GoogleTts:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def voices(self, language: str | None = None) -> list[GoogleVoice]:
        params = {"languageCode": language} if language else None
        body = self._answer(await self.upstream.request("GET", "/v1/voices", params=params))
        try:
            return [_voice(v) for v in body.get("voices") or []]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise UpstreamError(self.upstream.name, "sent a voice list of an unexpected shape") from None

    async def synthesize(self, text: str, language: str, voice: str | None, encoding: str = "MP3") -> bytes:
        """The audio of `text` (at most MAX_INPUT_BYTES of UTF-8) in `encoding`. Retried on a timeout, 429 or
        5xx like a GET: synthesizing twice changes nothing but the bill."""
        body = {"input": {"text": text}, "voice": {"languageCode": language, **({"name": voice} if voice else {})},
                "audioConfig": {"audioEncoding": encoding}}
        answer = self._answer(await self.upstream.request("POST", "/v1/text:synthesize", json=body, retry=True))
        content = answer.get("audioContent") if isinstance(answer, dict) else None
        if not isinstance(content, str) or not content or len(content) > MAX_AUDIO_BYTES * 4 // 3 + 4:
            raise UpstreamError(self.upstream.name, "sent an answer without usable audio")
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise UpstreamError(self.upstream.name, "sent audio that is not base64") from None

    def _answer(self, response: httpx.Response) -> Any:
        """The JSON body of a 200; Google's error, in its own words, otherwise."""
        if response.status_code >= 400:
            raise self._error(response)
        body = self.upstream.parse(response)
        if not isinstance(body, dict):
            raise UpstreamError(self.upstream.name, "answered with JSON of an unexpected shape")
        return body

    def _error(self, response: httpx.Response) -> UpstreamError:
        status, message, reasons = _google_error(response)
        if response.status_code in (401, 403) or "API_KEY_INVALID" in reasons:
            error: UpstreamError = CredentialsRefused(self.upstream.name, response.status_code)
            if message:
                error.message = f"{error.message} ({message})"
            return error
        said = f"{status}: {message}" if status and message else message or status or f"{response.status_code}"
        if response.status_code == 400:
            return Refused(self.upstream.name, f"refused the request ({said})")
        return UpstreamError(self.upstream.name, f"answered {response.status_code} ({said})")


def _google_error(response: httpx.Response) -> tuple[str | None, str | None, set[str]]:
    """(status, message, ErrorInfo reasons) of Google's error body, each None/empty when absent or garbled."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None, None, set()
    if not isinstance(error, dict):
        return None, None, set()
    details = error.get("details")
    reasons = {str(d["reason"]) for d in details if isinstance(d, dict) and d.get("reason")} \
        if isinstance(details, list) else set()
    return clean_optional(error.get("status"), 64), clean_optional(error.get("message"), 300), reasons


def _voice(item: dict[str, Any]) -> GoogleVoice:
    rate = item.get("naturalSampleRateHertz")
    return GoogleVoice(name=str(clean_optional(item["name"], 100)),
                       language_codes=tuple(str(c) for c in item.get("languageCodes") or []),
                       gender=clean_optional(item.get("ssmlGender"), 32),
                       sample_rate=rate if isinstance(rate, int) else None)
