"""The interface every text-to-speech engine implements (offline.py: eSpeak NG; google.py: Google Cloud
Text-to-Speech), and what it lists: languages and voices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

ProviderName = Literal["offline", "google"]
PROVIDERS: tuple[ProviderName, ...] = ("offline", "google")


@dataclass(frozen=True)
class Language:
    code: str  # as a request names it: "en-us", "de" (offline); "en-US" (Google, BCP-47)
    name: str


@dataclass(frozen=True)
class Voice:
    id: str  # what a request's `voice` names
    name: str
    gender: str | None
    languages: tuple[str, ...]  # the languages it speaks; empty: any (an eSpeak variant)


class Provider(Protocol):
    """One engine. `limit` is the most text one `synthesize` call takes, counted by `measure` (characters,
    or UTF-8 bytes for Google); `suffix` names the audio files it writes. `synthesize` raises the
    downloads' `Failure` (transient when another attempt could help), so a speech job fails, retries and
    reports like any download; the task is cancelled on a cancel."""

    name: ProviderName
    limit: int
    suffix: str

    def measure(self, text: str) -> int:
        """The size of `text` as `limit` counts it."""
        ...

    async def synthesize(self, text: str, language: str, voice: str | None, dest: Path) -> None:
        """Write the speech of `text` to `dest` (whole, or not at all)."""
        ...
