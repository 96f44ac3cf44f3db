"""Request and response bodies of /api/v1/tts (the job itself is shown as a download: DownloadOut)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from medianest.downloads.schemas import URL_PATTERN, AudioFormat
from medianest.inputs import Input
from medianest.speech.providers import ProviderName

# About two hours of speech; longer texts are better split into several items anyway.
MAX_TEXT_CHARS = 100_000


class SpeechIn(Input):
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS,
                             description="the text to speak; give `text` or `url`, not both")
    url: str | None = Field(default=None, min_length=1, max_length=2048, pattern=URL_PATTERN,
                            description="a web page whose readable text (its article) is spoken")
    language: str = Field(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$",
                          description="a BCP-47 tag (en-US, de, fr-FR); see GET /api/v1/tts/voices")
    voice: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$",
                              description="a voice of the provider (GET /api/v1/tts/voices); its default if none")
    provider: ProviderName = Field(default="offline", description="offline (eSpeak NG) or google "
                                   "(Google Cloud Text-to-Speech, through the admin's google_tts connection)")
    audio_format: AudioFormat | None = Field(default=None, description="mp3 unless chosen")


class LanguageOut(BaseModel):
    code: str
    name: str


class VoiceOut(BaseModel):
    id: str
    name: str
    gender: str | None
    languages: list[str] = Field(description="the languages it speaks; empty: any of the provider's")


class VoicesOut(BaseModel):
    provider: ProviderName
    languages: list[LanguageOut]
    voices: list[VoiceOut]
