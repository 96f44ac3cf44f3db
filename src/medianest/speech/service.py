"""Text to speech as the API sees it: a request becomes a download of kind "speech" (and its
SpeechRequest row), queued, limited, listed, canceled and followed exactly like any download; and the
languages and voices each provider offers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.connections.clients import Integrations
from medianest.downloads import events
from medianest.downloads.models import KIND_SPEECH, MODE_AUDIO, QUEUED, Download
from medianest.downloads.service import Downloads
from medianest.errors import InvalidInput
from medianest.speech import google, offline
from medianest.speech.models import SpeechRequest
from medianest.speech.page import page_client, read_page
from medianest.speech.providers import ProviderName
from medianest.speech.schemas import MAX_TEXT_CHARS, LanguageOut, SpeechIn, VoiceOut, VoicesOut
from medianest.text import clean_text

TITLE_CHARS = 60  # a title from the text's first words: what a list shows in one line


@dataclass(frozen=True)
class Speech:
    """What the speech routes need: the downloads' queue, limits and notifier, and the connections (Google's).
    A page to read is fetched by a client of its own (`page_client`), which checks every address it connects
    to: the process's client reaches the admin's services on private addresses."""

    downloads: Downloads
    integrations: Integrations


@dataclass(frozen=True)
class _Text:
    text: str
    title: str
    url: str | None  # the page it was read from


async def create(ctx: Speech, session: AsyncSession, user: User, body: SpeechIn) -> Download:
    """Queue the speaking of a text (or of a page's text). 422 for a bad language, voice or text, 503 for
    Google without a connection, 429 past the downloads' rate limit (speech jobs count as downloads)."""
    if (body.text is None) == (body.url is None):
        raise InvalidInput("text", "give either a text or the url of a page to read, not both")
    language, voice = await _voice(session, body)
    await ctx.downloads.limits.hit("downloads", str(user.id), "downloads")
    said = await _text(ctx, body)
    dl = Download(user_id=user.id, kind=KIND_SPEECH, url=said.url or f"speech:{body.provider}:{language}",
                  mode=MODE_AUDIO, quality="best", audio_format=body.audio_format or "mp3", status=QUEUED,
                  title=said.title, percent=0.0, downloaded_bytes=0, attempts=0)
    session.add(dl)
    await session.flush()  # its id, for the speech row beside it: both land in one commit
    session.add(SpeechRequest(download_id=dl.id, text=said.text, language=language, voice=voice,
                              provider=body.provider))
    await session.commit()
    ctx.downloads.queue.enqueue(dl.id)
    await events.announce(ctx.downloads.notifier, dl)
    return dl


async def _voice(session: AsyncSession, body: SpeechIn) -> tuple[str, str | None]:
    """The language and voice as the provider names them; InvalidInput when it has neither."""
    if body.provider == "google":
        await google.connection(session)  # 503 at once when there is none, not a failed job later
        problem = google.check_voice(body.language, body.voice)
        if problem:
            field, reason = problem.split(": ", 1)
            raise InvalidInput(field, reason)
        return body.language, body.voice
    language = offline.find_language(body.language)
    if language is None:
        raise InvalidInput("language", f"the offline voice does not speak {body.language!r} "
                                       "(GET /api/v1/tts/voices lists its languages)")
    if body.voice is not None and body.voice not in offline.voices():
        raise InvalidInput("voice", f"no offline voice {body.voice!r} (GET /api/v1/tts/voices lists them)")
    return language, body.voice


async def _text(ctx: Speech, body: SpeechIn) -> _Text:
    """The text to speak, cleaned, with a title: the pasted text, or the article of the page at `url`."""
    if body.url is not None:
        allow_private = ctx.downloads.settings.downloads_allow_private_networks
        async with page_client(allow_private) as http:
            page = await read_page(http, body.url, allow_private)
        if len(page.text) > MAX_TEXT_CHARS:
            raise InvalidInput("url", f"the page's text is longer than {MAX_TEXT_CHARS} characters")
        if not _says_something(page.text):
            raise InvalidInput("url", "the page has no readable text")
        return _Text(page.text, page.title or title_of(page.text), page.url)
    text = clean_text(body.text or "")
    if not _says_something(text):
        raise InvalidInput("text", "has nothing to say (only spaces, punctuation or control characters)")
    return _Text(text, title_of(text), None)


def _says_something(text: str) -> bool:
    """Whether there is a word to speak (not only spaces, punctuation and symbols)."""
    return any(ch.isalnum() for ch in text)


def title_of(text: str) -> str:
    """The text's first words, at most TITLE_CHARS characters, cut at a word's end ("…" when cut)."""
    first = " ".join(text.split())
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[:TITLE_CHARS + 1].rsplit(" ", 1)[0] if " " in first[:TITLE_CHARS + 1] else first[:TITLE_CHARS]
    return cut[:TITLE_CHARS].rstrip(" ,;:.-") + "…"


async def catalog(session: AsyncSession, integrations: Integrations, provider: ProviderName,
                  language: str | None) -> VoicesOut:
    """The provider's languages and voices (Google's as its API lists them now, for `language` if given)."""
    if provider == "google":
        client = integrations.google_tts(await google.connection(session))
        found = await client.voices(language)
        codes = sorted({code for v in found for code in v.language_codes})
        return VoicesOut(provider=provider, languages=[LanguageOut(code=c, name=c) for c in codes],
                         voices=[VoiceOut(id=v.name, name=v.name, gender=v.gender, languages=list(v.language_codes))
                                 for v in found])
    languages = sorted(offline.languages().values(), key=lambda lang: lang.code)
    if language is not None:
        wanted = offline.find_language(language)
        languages = [lang for lang in languages if lang.code == wanted]
    return VoicesOut(provider=provider, languages=[LanguageOut(code=lang.code, name=lang.name) for lang in languages],
                     voices=[VoiceOut(id=v.id, name=v.name, gender=v.gender, languages=list(v.languages))
                             for v in offline.voices().values()])
