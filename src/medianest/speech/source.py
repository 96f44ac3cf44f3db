"""The downloads' source for kind "speech" (registered in parts.py): one item per job, made by speaking
the text piece by piece through its provider, then joining and encoding the pieces (audio.py).

Each piece is kept in the job's temporary folder as it is made, so a retry after a transient failure
(Google down for a moment, a killed eSpeak child) speaks only what is still missing. Progress is the
share of the text spoken so far, in UTF-8 bytes; the last report is the encoded file's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medianest.connections.clients import Integrations
from medianest.downloads.models import Download, DownloadItem
from medianest.downloads.sources import Report
from medianest.downloads.spec import Failure
from medianest.errors import DomainError
from medianest.integrations.http import Breakers
from medianest.jobs.context import JobContext
from medianest.library.ffmpeg import ffmpeg_exe
from medianest.security.crypto import secret_box
from medianest.speech import audio, google
from medianest.speech.models import SpeechRequest
from medianest.speech.offline import Offline
from medianest.speech.providers import Provider
from medianest.speech.split import split

SITE = "tts"  # the media's source_site; its source_id is "speech-<download id>"


class SpeechSource:
    """One per process: the circuit breakers of the Google connection live as long as it does."""

    def __init__(self) -> None:
        self._breakers: Breakers | None = None

    async def entries(self, context: JobContext, dl: Download) -> dict[str, Any]:
        return {"is_playlist": False, "title": dl.title or audio.ALBUM, "id": f"speech-{dl.id}", "site": SITE}

    async def fetch(self, context: JobContext, dl: Download, item: DownloadItem, tmp: Path,
                    report: Report) -> dict[str, Any]:
        request = await _request(context, dl.id)
        provider = await self._provider(context, request.provider)
        pieces = split(request.text, provider.limit, provider.measure)
        if not pieces:
            raise Failure("the text has nothing to say", transient=False)
        files = await _speak(provider, request, pieces, tmp, report)
        report({"type": "phase", "phase": "processing"})
        out = tmp / f"speech.{dl.audio_format or 'mp3'}"
        title = item.title or dl.title or audio.ALBUM
        await audio.join(context.settings.ffmpeg_path or ffmpeg_exe(), files, out, dl.audio_format or "mp3", title)
        return {"file": str(out), "bytes": out.stat().st_size, "id": item.source_id, "site": SITE, "title": title,
                "url": dl.url, "channel": audio.ARTIST}

    async def _provider(self, context: JobContext, name: str) -> Provider:
        if name == "offline":
            return Offline()
        if name != "google":
            raise Failure(f"no text-to-speech provider {name!r}", transient=False)
        try:
            async with context.sessions() as session:
                config = await google.connection(session)
        except DomainError as exc:  # the connection was removed or turned off since the job was queued
            raise Failure(exc.message, transient=False) from None
        return google.Google(self._integrations(context).google_tts(config))

    def _integrations(self, context: JobContext) -> Integrations:
        settings = context.settings
        if self._breakers is None:
            self._breakers = Breakers(settings.breaker_threshold, settings.breaker_cooldown_s)
        return Integrations(context.http, secret_box(settings), settings, breakers=self._breakers)


async def _request(context: JobContext, download_id: int) -> SpeechRequest:
    async with context.sessions() as session:
        request = await session.get(SpeechRequest, download_id)
    if request is None:
        raise Failure("this speech download has lost its text", transient=False)
    return request


async def _speak(provider: Provider, request: SpeechRequest, pieces: list[str], tmp: Path,
                 report: Report) -> list[Path]:
    """Each piece's audio file, in order; pieces an earlier attempt made are kept, not spoken again."""
    total = sum(len(piece.encode()) for piece in pieces)
    spoken, files = 0, []
    for n, piece in enumerate(pieces):
        dest = tmp / f"piece-{n:05d}.{provider.suffix}"
        if not dest.exists():
            await provider.synthesize(piece, request.language, request.voice, dest)
        files.append(dest)
        spoken += len(piece.encode())
        report({"type": "progress", "downloaded": spoken, "total": total})
    return files
