"""Routes: /api/v1/media/{id}/subtitles (list, WebVTT, OpenSubtitles search and download)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from medianest.api.deps import CurrentUser, IntegrationsDep, SessionDep, SettingsDep, parse_id, parts
from medianest.api.envelope import Envelope, errors, ok
from medianest.api.routes.streaming import AccessDep, ApiKeyHeader, Bearer, TokenQuery, authorize
from medianest.library.service import visible_media
from medianest.subtitles import service
from medianest.subtitles.schemas import DownloadIn, FoundOut, SubtitleOut

router = APIRouter(prefix="/api/v1/media", tags=["subtitles"])
UPSTREAM = (429, 502, 503, 504)
LANGS = r"^[a-z]{2,3}(-[a-zA-Z0-9]{2,8})?(,[a-z]{2,3}(-[a-zA-Z0-9]{2,8})?){0,9}$"


@router.get("/{media_id}/subtitles", responses=errors(401, 404))
async def list_subtitles(media_id: str, request: Request, user: CurrentUser,
                         session: SessionDep) -> Envelope[list[SubtitleOut]]:
    """Sidecar files beside the video and the subtitle streams inside it, each with a WebVTT `url`."""
    media = await visible_media(session, parse_id(media_id, "media"))
    token = parts(request).auth.signer.media_token(user.id, media.id, user.token_epoch)
    return ok([SubtitleOut.of(row, token) for row in await service.index(session, media)])


@router.get("/{media_id}/subtitles/search", responses=errors(401, 404, 422, *UPSTREAM))
async def search_subtitles(media_id: str, _: CurrentUser, session: SessionDep, settings: SettingsDep,
                           integrations: IntegrationsDep,
                           lang: Annotated[str, Query(pattern=LANGS, description="e.g. en or en,fr")] = "en",
                           ) -> Envelope[list[FoundOut]]:
    """OpenSubtitles' files for this video: made for this very file (moviehash) first, then by title."""
    media = await visible_media(session, parse_id(media_id, "media"))
    found = await service.search(session, integrations, settings, media, lang.split(","))
    return ok([FoundOut.of(f) for f in found])


@router.post("/{media_id}/subtitles", status_code=201, responses=errors(401, 404, 422, *UPSTREAM))
async def download_subtitle(media_id: str, body: DownloadIn, request: Request, user: CurrentUser,
                            session: SessionDep, settings: SettingsDep,
                            integrations: IntegrationsDep) -> Envelope[SubtitleOut]:
    """Download one OpenSubtitles file and keep it beside the video (`Movie.en.srt`)."""
    media = await visible_media(session, parse_id(media_id, "media"))
    row = await service.download(session, integrations, settings, media, body.file_id, body.language)
    return ok(SubtitleOut.of(row, parts(request).auth.signer.media_token(user.id, media.id, user.token_epoch)))


@router.get("/{media_id}/subtitles/{subtitle_id}.vtt", response_class=Response,
            responses={200: {"content": {"text/vtt": {"schema": {"type": "string"}}}, "description": "WebVTT"},
                       **errors(400, 401, 403, 404)})
async def subtitle_vtt(media_id: str, subtitle_id: str, access: AccessDep, bearer: Bearer, session: SessionDep,
                       settings: SettingsDep, api_key: ApiKeyHeader = None, token: TokenQuery = None) -> Response:
    """The subtitle as WebVTT (SRT and ASS converted; embedded text streams extracted). Accepts the
    item's signed `?token=` like the stream, so `<track src>` works."""
    media = await visible_media(session, await authorize(access, media_id, token, bearer, api_key))
    text = await service.vtt(session, settings, media, parse_id(subtitle_id, "subtitle"))
    return Response(text, media_type="text/vtt; charset=utf-8", headers={"cache-control": "private, max-age=300"})
