"""Routes: GET|HEAD /api/v1/media/{id}/stream and /api/v1/media/{id}/artwork."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from medianest.api.deps import ArtworkDep, TranscodingDep, parse_id, parts
from medianest.api.envelope import errors
from medianest.errors import NotFound
from medianest.inputs import NO_NUL
from medianest.library.formats import AUDIO_ONLY_MIME, FORMATS
from medianest.library.models import Media
from medianest.streaming.access import StreamAccess
from medianest.streaming.objects import byte_response
from medianest.streaming.response import FileInfo, MediaFileResponse, content_disposition
from medianest.transcoding.responses import transcoded_response

router = APIRouter(prefix="/api/v1/media", tags=["streaming"])
_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False)

# Every MIME type the library serves, so clients (and schemathesis) know what a stream can carry.
_MEDIA_TYPES: dict[str, dict[str, Any]] = {
    mime: {} for mime in sorted({f.mime for f in FORMATS.values()} | set(AUDIO_ONLY_MIME.values()))}
BYTES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file, or its audio transcoded (`format`)", "content": _MEDIA_TYPES},
    206: {"description": "Partial content: one range, or multipart/byteranges for several",
          "content": {**_MEDIA_TYPES, "multipart/byteranges": {}}},
    304: {"description": "Not modified (If-None-Match / If-Modified-Since)"},
    **errors(401, 403, 404, 416, 422),
    503: {**errors(503)[503], "description": "UNAVAILABLE: the item's folder is offline (not mounted, missing, "
                                              "unreadable), or every transcoder is in use (Retry-After); the "
                                              "message says why"},
}
TokenQuery = Annotated[str | None, Query(pattern=NO_NUL, description="media token from an item's stream_url")]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiKeyHeader = Annotated[str | None, Depends(_api_key)]


# Both dependencies are `async def` although they never wait: FastAPI runs a plain `def` dependency
# in a worker thread, and a thread hop per byte request costs more than everything else it does.
async def _access(request: Request) -> StreamAccess:
    access: StreamAccess = parts(request).stream_access
    return access


AccessDep = Annotated[StreamAccess, Depends(_access)]


async def authorize(access: StreamAccess, media_id: str, token: str | None, bearer: Bearer,
                     api_key: ApiKeyHeader = None) -> int:
    mid = parse_id(media_id, "media")
    caller = await access.caller_for(mid, token, bearer.credentials if bearer else None, api_key)
    await access.check_user(caller)
    return mid


Format = Literal["raw", "mp3", "opus", "aac", "flac"]


async def stream(request: Request, media_id: str, access: AccessDep, bearer: Bearer,
                 transcoding: TranscodingDep, api_key: ApiKeyHeader = None,
                 token: TokenQuery = None, download: bool = False,
                 format: Annotated[Format | None, Query(description="raw (or none): the file as it is; else the "
                                                                     "audio transcoded to this format")] = None,
                 bitrate: Annotated[int | None, Query(ge=8, le=1536, description="kbit/s (lossy formats; none: "
                                                      "the format's default, or the codec copied when the "
                                                      "file already has it)")] = None,
                 offset: Annotated[float, Query(ge=0, le=864_000, description="start at this second "
                                                "(transcodes only: OpenSubsonic's transcodeOffset)")] = 0,
                 audio_track: Annotated[int | None, Query(ge=0, le=63)] = None) -> Response:
    """The file's bytes: Range (single and multi), If-Range, ETag, Last-Modified and 304s. With `format`,
    the audio transcoded on the fly: the first bytes come as soon as they are encoded, `X-Content-Duration`
    says how long it is, and a finished transcode is cached, then served like a file (with Ranges)."""
    media, info = await access.file(await authorize(access, media_id, token, bearer, api_key))
    if format is None or format == "raw":
        return stream_response(media, info, download)
    source = await transcoding.audio_stream(info, format, bitrate, offset, audio_track,
                                            start=request.method != "HEAD")
    return transcoded_response(source, request.method == "HEAD")


def stream_response(media: Media, info: FileInfo, download: bool = False) -> MediaFileResponse:
    """The response for an authorized stream request (shared with the fast path in `fastpath.py`)."""
    headers = {"cache-control": "private, max-age=3600"}
    if download:
        headers["content-disposition"] = content_disposition(_download_name(media.title, media.path))
    return byte_response(info, headers)


async def get_artwork(media_id: str, access: AccessDep, bearer: Bearer, images: ArtworkDep,
                      api_key: ApiKeyHeader = None, token: TokenQuery = None) -> MediaFileResponse:
    """Cover art (audio) or a thumbnail (video); 404 when the item has none."""
    media = await access.media(await authorize(access, media_id, token, bearer, api_key))
    path = await images.file(media.artwork or "")
    try:
        st = path.stat() if path is not None else None
    except OSError:  # removed from the cache since path_of looked
        st = None
    if path is None or st is None:
        raise NotFound("artwork", media_id)
    mime = "image/png" if path.suffix == ".png" else "image/jpeg"
    # Named by content hash, so the bytes behind a name never change.
    info = FileInfo(str(path), st.st_size, st.st_mtime, mime)
    return MediaFileResponse(info, {"cache-control": "private, max-age=604800, immutable"})


def _download_name(title: str, path: str) -> str:
    ext = Path(path).suffix
    safe = "".join(c for c in title if c not in '/\\:*?"<>|\x00' and ord(c) >= 32).strip() or "download"
    return safe[:200] + ext


ARTWORK: dict[int | str, dict[str, Any]] = {
    **BYTES, 200: {"description": "Cover art or thumbnail", "content": {"image/jpeg": {}, "image/png": {}}}}

# GET and HEAD are registered apart so each has its own OpenAPI operation id.
for _method in ("GET", "HEAD"):
    router.add_api_route("/{media_id}/stream", stream, methods=[_method], response_class=Response,
                         status_code=200, responses=BYTES, operation_id=f"stream_media_{_method.lower()}")
    router.add_api_route("/{media_id}/artwork", get_artwork, methods=[_method],
                         response_class=MediaFileResponse, status_code=200, responses=ARTWORK,
                         operation_id=f"media_artwork_{_method.lower()}")
