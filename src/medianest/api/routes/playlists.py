"""Routes: /api/v1/playlists (CRUD, items, M3U8 export and import)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from medianest.api.deps import CurrentUser, PageDep, SessionDep, SettingsDep, parse_id
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.api.routes.library import ViewerDep
from medianest.errors import BadRequest, PayloadTooLarge
from medianest.playlists import imports, m3u, service
from medianest.playlists.schemas import (
    NAME_PATTERN,
    ImportResult,
    ItemIn,
    ItemMove,
    PlaylistIn,
    PlaylistOut,
    PlaylistPatch,
)
from medianest.streaming.response import content_disposition

router = APIRouter(prefix="/api/v1/playlists", tags=["playlists"], responses=errors(401, 403))

MAX_IMPORT_BYTES = 2 * 1024 * 1024
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL, except tab, LF and CR
ImportName = Annotated[str | None, Query(min_length=1, max_length=255, pattern=NAME_PATTERN)]
# Text with something visible in it and no control characters but tabs and line breaks (see _read_text).
_LINE_CHAR, _VISIBLE = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", r"[^\s\x00-\x1f\x7f]"
_M3U_TEXT = {"type": "string", "pattern": f"^{_LINE_CHAR}*{_VISIBLE}{_LINE_CHAR}*$"}
M3U_BODY = {"requestBody": {"required": True, "description": (
    f"M3U or M3U8 text (UTF-8 or Windows-1252), at most {MAX_IMPORT_BYTES // 1024} KiB (else 413); the first "
    f"{m3u.MAX_ENTRIES} entries are read; a line longer than {m3u.MAX_LINE_CHARS} characters is refused (422)."),
    "content": {"audio/x-mpegurl": {"schema": _M3U_TEXT}, "text/plain": {"schema": _M3U_TEXT}}}}


@router.get("", responses=errors(422))
async def list_playlists(user: CurrentUser, session: SessionDep, paging: PageDep, mine: bool = False,
                         ) -> Page[PlaylistOut]:
    """The caller's playlists and everyone's public ones (`mine=true`: only the caller's)."""
    rows, total = await service.list_playlists(session, user.id, paging.offset, paging.per_page, mine)
    return page(rows, page=paging.page, per_page=paging.per_page, total=total)


@router.post("", status_code=201, responses=errors(422))
async def create_playlist(body: PlaylistIn, user: CurrentUser, session: SessionDep) -> Envelope[PlaylistOut]:
    pl = await service.create(session, user.id, body)
    return ok(await service.summary(session, pl))


@router.post("/import", status_code=201, openapi_extra=M3U_BODY, responses=errors(400, 413, 422))
async def import_playlist(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                          name: ImportName = None,
                          ) -> Envelope[ImportResult]:
    """Create a private playlist from an M3U8 body (at most 2 MiB, 10,000 entries, lines of at most
    16,384 characters: a longer line is a 422). Entries match by path (absolute, relative to a media
    folder, or the path's tail), then by artist and title; the others are listed in `unmatched`."""
    text = await _read_text(request)
    pl, matched, unmatched = await imports.import_m3u8(session, user.id, text, name, settings.library_dirs)
    return ok(ImportResult(playlist=await service.summary(session, pl), matched=matched, unmatched=unmatched))


@router.get("/{playlist_id}", responses=errors(404))
async def get_playlist(playlist_id: str, user: CurrentUser, session: SessionDep, viewer: ViewerDep,
                       ) -> Envelope[PlaylistOut]:
    pl = await service.readable(session, user.id, parse_id(playlist_id, "playlist"))
    return ok(await service.detail(session, pl, viewer))


@router.patch("/{playlist_id}", responses=errors(404, 422))
async def patch_playlist(playlist_id: str, body: PlaylistPatch, user: CurrentUser, session: SessionDep,
                         ) -> Envelope[PlaylistOut]:
    pl = await service.patch(session, user.id, parse_id(playlist_id, "playlist"), body)
    return ok(await service.summary(session, pl))


@router.delete("/{playlist_id}", status_code=204, responses=errors(404))
async def delete_playlist(playlist_id: str, user: CurrentUser, session: SessionDep) -> Response:
    await service.delete(session, user.id, parse_id(playlist_id, "playlist"))
    return Response(status_code=204)


@router.post("/{playlist_id}/items", status_code=201, responses=errors(404, 409, 422))
async def add_item(playlist_id: str, body: ItemIn, user: CurrentUser, session: SessionDep, viewer: ViewerDep,
                   ) -> Envelope[PlaylistOut]:
    """Insert an item at `position` (0-based; the end when omitted); returns the playlist."""
    pid = parse_id(playlist_id, "playlist")
    await service.add_item(session, user.id, pid, body, parse_id(body.media_id, "media"))
    return ok(await service.detail(session, await service.readable(session, user.id, pid), viewer))


@router.patch("/{playlist_id}/items/{item_id}", responses=errors(404, 422))
async def move_item(playlist_id: str, item_id: str, body: ItemMove, user: CurrentUser, session: SessionDep,
                    viewer: ViewerDep) -> Envelope[PlaylistOut]:
    pid = parse_id(playlist_id, "playlist")
    await service.move_item(session, user.id, pid, parse_id(item_id, "playlist item"), body.position)
    return ok(await service.detail(session, await service.readable(session, user.id, pid), viewer))


@router.delete("/{playlist_id}/items/{item_id}", status_code=204, responses=errors(404))
async def remove_item(playlist_id: str, item_id: str, user: CurrentUser, session: SessionDep) -> Response:
    pid = parse_id(playlist_id, "playlist")
    await service.remove_item(session, user.id, pid, parse_id(item_id, "playlist item"))
    return Response(status_code=204)


M3U_TEXT = {"audio/x-mpegurl": {"schema": {"type": "string"}}}


@router.get("/{playlist_id}/export.m3u8",
            responses={200: {"description": "Extended M3U, UTF-8", "content": M3U_TEXT}, **errors(404)})
async def export_playlist(playlist_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                          ) -> Response:
    """The playlist as M3U8; each path is relative to its media folder (importing it back matches it)."""
    name, text = await service.export_m3u8(session, user.id, parse_id(playlist_id, "playlist"),
                                           settings.library_dirs)
    return Response(text, media_type="audio/x-mpegurl; charset=utf-8",
                    headers={"content-disposition": content_disposition(f"{name}.m3u8")})


async def _read_text(request: Request) -> str:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"playlists larger than {MAX_IMPORT_BYTES // 1024} KiB are not accepted")
    text = _decode(bytes(body))
    if not text.strip():
        raise BadRequest("the playlist is empty")
    # Text playlists never hold control characters; binary data sent by mistake does (and PostgreSQL
    # refuses NUL in text, which would surface as a 500).
    if CONTROL.search(text):
        raise BadRequest("the playlist is not text: it contains control characters")
    return text


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return body.decode("cp1252")  # plain .m3u files from Windows players
        except UnicodeDecodeError as exc:
            raise BadRequest("the playlist is neither UTF-8 nor Windows-1252 text") from exc
