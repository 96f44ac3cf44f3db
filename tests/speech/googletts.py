"""A stand-in for Google Cloud Text-to-Speech's REST API v1 (texttospeech.googleapis.com), on 127.0.0.1.

Sources (read-only):
- The REST reference: `POST /v1/text:synthesize` with `{input: {text | ssml}, voice: {languageCode, name?,
  ssmlGender?}, audioConfig: {audioEncoding, ...}}` answered `{"audioContent": <base64>}` ("including the header
  for encodings that are wrapped in containers (e.g. MP3, OGG_OPUS). For LINEAR16 audio, we include the WAV
  header"); `GET /v1/voices?languageCode=` answered `{voices: [{languageCodes, name, ssmlGender,
  naturalSampleRateHertz}]}` (the "List all supported voices" guide's example).
- SynthesisInput: "Either text or ssml must be supplied. Supplying both or neither returns INVALID_ARGUMENT. The
  input size is limited to 5000 bytes."; the message users quote for a longer one: "Either `input.text` or
  `input.ssml` is longer than the limit of 5000 bytes. This limit is different from quotas. ..."
- Google's JSON error shape `{"error": {"code", "message", "status", "details"?}}`, quoted in public issues: a wrong
  key is 400 INVALID_ARGUMENT "API key not valid. Please pass a valid API key." with an ErrorInfo detail whose
  reason is API_KEY_INVALID; a missing key is 403 PERMISSION_DENIED "The request is missing a valid API key.".

Assumptions (not found in a primary source): a key blocked for this API gets 403 PERMISSION_DENIED with the reason
API_KEY_SERVICE_BLOCKED; an unknown voice name and a missing field get 400 INVALID_ARGUMENT with a message of
our own; the key may also come as `?key=`. The audio is a real clip made by ffmpeg (a tone, one per encoding),
the same for every text: what a test checks is that each piece was asked for and that they were joined.
"""

from __future__ import annotations

import base64
import json
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

from medianest.library.ffmpeg import run_ffmpeg
from tests.integrations.standin import Reply, Request, StandIn

MAX_INPUT_BYTES = 5000
TOO_LONG = ("Either `input.text` or `input.ssml` is longer than the limit of 5000 bytes. This limit is different "
            "from quotas. To fix, reduce the byte length of the characters in this request, or consider using the "
            "Long Audio API: https://cloud.google.com/text-to-speech/docs/create-audio-text-long-audio-synthesis.")
VOICES = [
    {"languageCodes": ["en-US"], "name": "en-US-Standard-A", "ssmlGender": "MALE", "naturalSampleRateHertz": 24000},
    {"languageCodes": ["en-US"], "name": "en-US-Wavenet-F", "ssmlGender": "FEMALE", "naturalSampleRateHertz": 24000},
    {"languageCodes": ["de-DE"], "name": "de-DE-Standard-B", "ssmlGender": "MALE", "naturalSampleRateHertz": 24000},
]
ENCODINGS = {"MP3": ("clip.mp3", ["-c:a", "libmp3lame", "-b:a", "32k"]),
             "LINEAR16": ("clip.wav", ["-c:a", "pcm_s16le"]),
             "OGG_OPUS": ("clip.ogg", ["-c:a", "libopus", "-b:a", "32k"])}
CLIP_S = 1.0  # every answer's audio lasts this long


def make_clips(folder: Path) -> dict[str, bytes]:
    """One second of a tone per encoding, made by ffmpeg (what every synthesize answers)."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    for encoding, (name, codec) in ENCODINGS.items():
        run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP_S}:sample_rate=24000", "-ac", "1",
                    *codec, str(folder / name)])
        clips[encoding] = (folder / name).read_bytes()
    return clips


def google_error(code: int, message: str, reason: str | None = None) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                             "domain": "googleapis.com", "metadata": {"service": "texttospeech.googleapis.com"}}]
    return Reply(code, {"error": error})


_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class GoogleTts(StandIn):
    """`api_key` is the key it accepts; `blocked_key` one it knows but that may not use this API.
    `spoken` logs the text of each successful synthesize, in order; `hold` (an Event) makes synthesize
    wait until it is set (a job caught mid-way)."""

    def __init__(self, clips: dict[str, bytes], api_key: str = "google-test-key",
                 blocked_key: str = "google-blocked-key") -> None:
        self.clips, self.api_key, self.blocked_key = clips, api_key, blocked_key
        self.spoken: list[str] = []
        self.hold: threading.Event | None = None
        super().__init__()

    def error_body(self, status: int) -> Any:
        return google_error(status, HTTPStatus(status).phrase).body

    def answer(self, request: Request) -> Reply:
        refused = self._key(request)
        if refused is not None:
            return refused
        if request.method == "GET" and request.path == "/v1/voices":
            wanted = (request.arg("languageCode") or "").lower()
            return Reply(200, {"voices": [v for v in VOICES if not wanted or any(
                c.lower().startswith(wanted) for c in v["languageCodes"])]})
        if request.method == "POST" and request.path == "/v1/text:synthesize":
            return self._synthesize(request)
        return google_error(404, f"Method not found: {request.method} {request.path}")

    def _key(self, request: Request) -> Reply | None:
        key = request.headers.get("x-goog-api-key") or request.arg("key")
        if not key:
            return google_error(403, "The request is missing a valid API key.")
        if key == self.blocked_key:
            return google_error(403, "Requests to this API texttospeech.googleapis.com method google.cloud."
                                     "texttospeech.v1.TextToSpeech.SynthesizeSpeech are blocked.",
                                "API_KEY_SERVICE_BLOCKED")
        if key != self.api_key:
            return google_error(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
        return None

    def _synthesize(self, request: Request) -> Reply:
        try:
            body = json.loads(request.body)
        except ValueError:
            return google_error(400, "Invalid JSON payload received.")
        problem = _invalid(body if isinstance(body, dict) else {})
        if problem is not None:
            return google_error(400, problem)
        if self.hold is not None:
            self.hold.wait(30)
        encoding = body["audioConfig"]["audioEncoding"]
        with self.lock:
            self.spoken.append(body["input"]["text"])
        return Reply(200, {"audioContent": base64.b64encode(self.clips[encoding]).decode()})


def _invalid(body: dict[str, Any]) -> str | None:
    """Google's INVALID_ARGUMENT message for a request it would refuse; None for a good one."""
    source = body.get("input") if isinstance(body.get("input"), dict) else {}
    if ("text" in source) == ("ssml" in source):
        return "Either `input.text` or `input.ssml` must be set, not both."
    if len(str(source.get("text") or source.get("ssml")).encode()) > MAX_INPUT_BYTES:
        return TOO_LONG
    voice = body.get("voice") if isinstance(body.get("voice"), dict) else {}
    if not voice.get("languageCode"):
        return "Invalid request: voice.languageCode is required."
    names = {v["name"]: v["languageCodes"] for v in VOICES}
    if voice.get("name") and (voice["name"] not in names or voice["languageCode"] not in names[voice["name"]]):
        return f"Voice '{voice['name']}' does not exist. Is it misspelled?"
    config = body.get("audioConfig") if isinstance(body.get("audioConfig"), dict) else {}
    if config.get("audioEncoding") not in ENCODINGS:
        return "Invalid request: audioConfig.audioEncoding must be set to a supported encoding."
    return None
