"""Google Cloud Text-to-Speech as a provider: the admin's `google_tts` connection (its API key sealed like
every connection's secret), called through the shared retry and circuit breaker (integrations/http.py).
Pieces are at most 5,000 bytes of UTF-8, Google's limit; each comes back as MP3."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.connections.models import ServiceConfig
from medianest.downloads.spec import Failure
from medianest.errors import DomainError, UpstreamUnavailable
from medianest.integrations.google_tts import MAX_INPUT_BYTES, GoogleTts, Refused
from medianest.integrations.http import CredentialsRefused
from medianest.speech.providers import ProviderName
from medianest.speech.split import by_bytes

KIND = "google_tts"
SERVICE = "Google Cloud Text-to-Speech"
# BCP-47 as Google writes it ("en-US", "cmn-CN", "es-419") and its voice names ("en-US-Wavenet-D",
# "de-DE-Chirp3-HD-Achernar"), which begin with their language.
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
VOICE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})+(-[A-Za-z0-9_]+)*$")


async def connection(session: AsyncSession) -> ServiceConfig:
    """The first enabled `google_tts` connection; UpstreamUnavailable (503) naming what to add when none is."""
    config = await session.scalar(select(ServiceConfig).where(ServiceConfig.kind == KIND, ServiceConfig.enabled)
                                  .order_by(ServiceConfig.id))
    if config is None:
        raise UpstreamUnavailable(SERVICE, "not configured (an admin adds a google_tts connection with its API key)")
    return config


def check_voice(language: str, voice: str | None) -> str | None:
    """Why Google would refuse this language and voice before asking it (None: they look right). A voice
    belongs to one language: its name begins with it."""
    if not LANGUAGE.match(language):
        return "language: a BCP-47 tag such as en-US"
    if voice is not None and (not VOICE.match(voice) or not voice.lower().startswith(language.lower() + "-")):
        return f"voice: a Google voice name of this language, such as {language}-Standard-A"
    return None


class Google:
    name: ProviderName = "google"
    limit = MAX_INPUT_BYTES
    suffix = "mp3"

    def __init__(self, client: GoogleTts) -> None:
        self.client = client

    def measure(self, text: str) -> int:
        return by_bytes(text)

    async def synthesize(self, text: str, language: str, voice: str | None, dest: Path) -> None:
        try:
            audio = await self.client.synthesize(text, language, voice)
        except (Refused, CredentialsRefused) as exc:  # asking again gives the same answer
            raise Failure(exc.message, transient=False) from None
        except DomainError as exc:  # down, too slow, broken, or the breaker open: a later attempt may do
            raise Failure(exc.message, transient=True) from None
        partial = dest.with_name(dest.name + ".part")
        partial.write_bytes(audio)
        os.replace(partial, dest)
