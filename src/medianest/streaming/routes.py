"""Routes: GET|HEAD /api/v1/media/{id}/stream and /api/v1/media/{id}/artwork."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from medianest.api.deps import SettingsDep, parse_id
from medianest.api.envelope import errors
from medianest.errors import NotFound
from medianest.library import artwork
from medianest.streaming.access import StreamAccess
from medianest.streaming.response import FileInfo, MediaFileResponse, content_disposition

router = APIRouter(prefix="/api/v1/media", tags=["streaming"])
_bearer = HTTPBearer(auto_error=False)

BYTES = {
    200: {"description": "The whole file", "content": {"application/octet-stream": {}}},
    206: {"description": "Partial content: one range, or multipart/byteranges for several",
          "content": {"application/octet-stream": {}}},
    304: {"description": "Not modified (If-None-Match / If-Modified-Since)"},
    **errors(401, 403, 404, 416),
}
TokenQuery = Annotated[str | None, Query(description="media token from an item's stream_url")]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _access(request: Request) -> StreamAccess:
    access: StreamAccess = request.app.state.stream_access
    return access


AccessDep = Annotated[StreamAccess, Depends(_access)]


async def _authorize(access: StreamAccess, media_id: str, token: str | None, bearer: Bearer) -> int:
    mid = parse_id(media_id, "media")
    user_id = access.user_id(mid, token, bearer.credentials if bearer else None)
    await access.check_user(user_id)
    return mid


async def stream(media_id: str, access: AccessDep, bearer: Bearer, token: TokenQuery = None,
                 download: bool = False) -> MediaFileResponse:
    """The file's bytes: Range (single and multi), If-Range, ETag, Last-Modified and 304s."""
    media, info = await access.file(await _authorize(access, media_id, token, bearer))
    headers = {"cache-control": "private, max-age=3600"}
    if download:
        headers["content-disposition"] = content_disposition(_download_name(media.title, media.path))
    return MediaFileResponse(info, headers)


async def get_artwork(media_id: str, access: AccessDep, bearer: Bearer, settings: SettingsDep,
                      token: TokenQuery = None) -> MediaFileResponse:
    """Cover art (audio) or a thumbnail (video); 404 when the item has none."""
    media = await access.media(await _authorize(access, media_id, token, bearer))
    path = artwork.path_of(settings.artwork_dir, media.artwork or "")
    if path is None:
        raise NotFound("artwork", media_id)
    st = path.stat()
    mime = "image/png" if path.suffix == ".png" else "image/jpeg"
    # Named by content hash, so the bytes behind a name never change.
    info = FileInfo(str(path), st.st_size, st.st_mtime, mime)
    return MediaFileResponse(info, {"cache-control": "private, max-age=604800, immutable"})


def _download_name(title: str, path: str) -> str:
    ext = Path(path).suffix
    safe = "".join(c for c in title if c not in '/\\:*?"<>|\x00' and ord(c) >= 32).strip() or "download"
    return safe[:200] + ext


ARTWORK = {**BYTES, 200: {"description": "Cover art or thumbnail", "content": {"image/jpeg": {}, "image/png": {}}}}

# GET and HEAD are registered apart so each has its own OpenAPI operation id.
for _method in ("GET", "HEAD"):
    router.add_api_route("/{media_id}/stream", stream, methods=[_method], response_class=MediaFileResponse,
                         status_code=200, responses=BYTES, operation_id=f"stream_media_{_method.lower()}")
    router.add_api_route("/{media_id}/artwork", get_artwork, methods=[_method], response_class=MediaFileResponse,
                         status_code=200, responses=ARTWORK, operation_id=f"media_artwork_{_method.lower()}")
