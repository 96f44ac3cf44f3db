"""Routes: /api/v1/tts (speak a text or a page's text into a library item; its languages and voices)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from medianest.api.deps import CurrentUser, IntegrationsDep, PartsDep, SessionDep
from medianest.api.envelope import Envelope, errors, ok
from medianest.downloads.schemas import DownloadOut
from medianest.speech import service
from medianest.speech.providers import ProviderName
from medianest.speech.schemas import SpeechIn, VoicesOut

router = APIRouter(prefix="/api/v1/tts", tags=["text to speech"], responses=errors(401, 403))


async def _speech(parts: PartsDep) -> service.Speech:
    return service.Speech(parts.downloads, parts.integrations)


SpeechDep = Annotated[service.Speech, Depends(_speech)]


@router.post("", status_code=202, responses=errors(400, 422, 429, 502, 503, 504))
async def create(body: SpeechIn, user: CurrentUser, session: SessionDep, ctx: SpeechDep) -> Envelope[DownloadOut]:
    """Speak a text (or the readable text of the page at `url`) into an audio item of the library. The job
    is a download: it is listed, followed (`download:*` events), canceled and retried at /api/v1/downloads,
    and ends with the item in `media_ids`."""
    return ok(DownloadOut.of(await service.create(ctx, session, user, body), []))


@router.get("/voices", responses=errors(422, 502, 503, 504))
async def voices(user: CurrentUser, session: SessionDep, integrations: IntegrationsDep,
                 provider: ProviderName = "offline",
                 language: Annotated[str | None, Query(min_length=2, max_length=35,
                                                       pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")] = None,
                 ) -> Envelope[VoicesOut]:
    """The languages and voices of a provider (Google's are asked of its API, through the google_tts
    connection), optionally for one language."""
    return ok(await service.catalog(session, integrations, provider, language))
