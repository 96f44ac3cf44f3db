"""The HTTP answer for a live or cached audio transcode, shared by the REST stream route and Subsonic's
`stream`: the cached file with Ranges once it exists, else the bytes as they are encoded."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from medianest.streaming.response import FileInfo, MediaFileResponse
from medianest.transcoding.service import AudioSource

PAD_CHUNK = 65536


def transcoded_response(source: AudioSource, head: bool, length: int | None = None) -> Response:
    """`length`: the Content-Length promised for a live transcode (Subsonic's estimateContentLength)."""
    headers = {"cache-control": "private, max-age=3600"}
    if source.duration_s is not None:
        headers["x-content-duration"] = f"{source.duration_s:.3f}"
    mime = source.request.mime
    if source.cached is not None:
        st = source.cached.stat()
        return MediaFileResponse(FileInfo(str(source.cached), st.st_size, st.st_mtime, mime), headers)
    headers["accept-ranges"] = "none"  # not until it is finished and cached
    if length is not None:
        headers["content-length"] = str(length)
    if head or source.body is None:
        return Response(status_code=200, media_type=mime, headers=headers)
    body = source.body if length is None else _exactly(source.body, length)
    return StreamingResponse(body, media_type=mime, headers=headers)


async def _exactly(body: AsyncIterator[bytes], length: int) -> AsyncIterator[bytes]:
    """The stream cut or padded to the length promised: an estimate is never exact, and HTTP breaks the
    connection on a body that is not the length it said. Padding is silence to decoders: zero bytes are no
    frame header."""
    sent = 0
    async for chunk in body:
        if sent + len(chunk) >= length:
            yield chunk[:length - sent]
            return
        sent += len(chunk)
        yield chunk
    while sent < length:
        pad = min(PAD_CHUNK, length - sent)
        sent += pad
        yield bytes(pad)
