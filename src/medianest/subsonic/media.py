"""The bytes: stream, download, getCoverArt, getAvatar; and the words: getLyrics, getLyricsBySongId.

`stream` plays the file as it is (with Ranges) unless the app asks for a format, a lower bit rate than the
file's, or a start offset (the transcodeOffset extension): then the transcoding capability encodes the
audio (MP3, Opus, AAC or FLAC), sharing encoders and the cache with the web player.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.responses import Response

from medianest.library import covers, lyrics
from medianest.library.models import Album, Artist, Media
from medianest.library.probe import fold
from medianest.streaming.objects import byte_response
from medianest.streaming.response import FileInfo, MediaFileResponse, content_disposition
from medianest.subsonic import shapes
from medianest.subsonic.browsing import one_item
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.protocol import NOT_FOUND, Payload, SubsonicError
from medianest.transcoding.responses import transcoded_response
from medianest.transcoding.service import AudioSource

# What apps name the formats we encode to (Navidrome's and Airsonic's names included).
FORMATS = {"mp3": "mp3", "opus": "opus", "ogg": "opus", "oga": "opus", "aac": "aac", "m4a": "aac", "mp4": "aac",
           "flac": "flac"}
# The codecs a format of ours holds, so asking for the codec a file already has is playing the file.
SAME = {"mp3": {"mp3"}, "opus": {"opus"}, "aac": {"aac"}, "flac": {"flac"}}
MAX_OFFSET_S = 864_000


async def stream(call: Call) -> Response:
    media, _ = await one_item(call, call.params.str("id"))
    media, info = await call.parts.stream_access.file(media.id)
    target, kbps = _target(call, media)
    offset = call.params.int("timeOffset", 0, 0, MAX_OFFSET_S)
    if target is None and offset > 0:
        target = next((f for f, codecs in SAME.items() if media.audio_codec in codecs), "mp3")
    if target is None:
        return byte_response(info, {"cache-control": "private, max-age=3600"})
    head = call.request.method == "HEAD"
    source = await call.parts.transcoding.audio_stream(info, target, kbps, float(offset), None,  # type: ignore[arg-type]
                                                       start=not head)
    estimate = call.params.bool("estimateContentLength", False)
    return transcoded_response(source, head, _estimate(source, media) if estimate else None)


def _target(call: Call, media: Media) -> tuple[str | None, int | None]:
    """The format to encode to (None: the file as it is) and the bit rate."""
    asked = (call.params.opt("format") or "").lower()
    cap = call.params.int("maxBitRate", 0, 0, 1536) or None
    over = cap is not None and (media.bitrate or 0) > cap * 1000
    if asked == "raw":
        return None, None
    fmt = FORMATS.get(asked)
    if fmt is None:  # no format, or one we do not make: the file, unless it is over the cap
        return ("mp3", cap) if over else (None, None)
    if media.audio_codec in SAME[fmt] and not over:
        return None, None
    return fmt, cap


def _estimate(source: AudioSource, media: Media) -> int | None:
    """Bytes at the encoder's bit rate (FLAC and copies: the file's own)."""
    kbps = source.request.plan.kbps or (media.bitrate or 0) // 1000 or 320
    if not source.duration_s:
        return None
    return int(source.duration_s * kbps * 1000 / 8)


async def download(call: Call) -> Response:
    media, _ = await one_item(call, call.params.str("id"))
    media, info = await call.parts.stream_access.file(media.id)
    name = Path(media.path).name
    return byte_response(info, {"cache-control": "private, max-age=3600",
                                "content-disposition": content_disposition(name)})


async def get_cover_art(call: Call) -> Response:
    name = await _artwork(call, call.params.str("id"))
    size = call.params.opt_int("size", 0, 1 << 20)
    cache = call.parts.settings.artwork_dir
    if name:
        await call.parts.artwork.file(name)  # brought from the bucket first if another host stored it
    path = await asyncio.to_thread(covers.sized, cache, name or "", size) if name else None
    if path is None:
        raise SubsonicError(NOT_FOUND, "cover art not found")
    st = path.stat()
    info = FileInfo(str(path), st.st_size, st.st_mtime, await asyncio.to_thread(covers.media_type, path))
    # Named by content hash: the bytes behind a name never change.
    return MediaFileResponse(info, {"cache-control": "private, max-age=604800, immutable"})


async def _artwork(call: Call, raw: str) -> str | None:
    """The artwork cache's name for an item's, album's or artist's cover id."""
    session = call.session
    if raw.startswith(shapes.ALBUM):
        return await session.scalar(select(Album.artwork).where(
            Album.id == shapes.parse_key(raw, shapes.ALBUM, "cover art")))
    if raw.startswith(shapes.ARTIST):
        return await session.scalar(select(Artist.artwork).where(
            Artist.id == shapes.parse_key(raw, shapes.ARTIST, "cover art")))
    media, _ = await one_item(call, raw)
    return media.artwork


async def get_avatar(call: Call) -> Response:
    """Users have no pictures here; each gets their initial on a colour of their own, so apps that show
    avatars show something that tells users apart."""
    name = call.params.str("username")
    return Response(_initial(name), media_type="image/png", headers={"cache-control": "private, max-age=86400"})


@lru_cache(maxsize=256)
def _initial(name: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    digest = hashlib.sha256(name.lower().encode()).digest()
    image = Image.new("RGB", (128, 128), (64 + digest[0] % 128, 64 + digest[1] % 128, 64 + digest[2] % 128))
    draw = ImageDraw.Draw(image)
    draw.text((64, 64), (name[:1] or "?").upper(), fill="white", anchor="mm", font=ImageFont.load_default(72))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def get_lyrics_by_song_id(call: Call) -> Payload:
    media, _ = await one_item(call, call.params.str("id"))
    _, info = await call.parts.stream_access.file(media.id)
    found = await asyncio.to_thread(lyrics.read_lyrics, info.path)
    return {"lyricsList": {"structuredLyrics": [_structured(item, media) for item in found]}}


def _structured(item: lyrics.Lyrics, media: Media) -> dict[str, Any]:
    return {"lang": item.lang, "synced": item.synced, "offset": item.offset_ms,
            "displayArtist": item.display_artist or media.artist, "displayTitle": item.display_title or media.title,
            "line": [{"start": line.start_ms, "value": line.value} if item.synced else {"value": line.value}
                     for line in item.lines]}


async def get_lyrics(call: Call) -> Payload:
    """The legacy form: lyrics of the first song with this artist and title, as plain text."""
    artist, title = call.params.opt("artist"), call.params.opt("title")
    media = await _by_names(call, artist, title) if title else None
    if media is None:
        return {"lyrics": {"value": ""}}
    _, info = await call.parts.stream_access.file(media.id)
    text = lyrics.lyrics_text(await asyncio.to_thread(lyrics.read_lyrics, info.path))
    return {"lyrics": {"artist": media.artist, "title": media.title, "value": text or ""}}


async def _by_names(call: Call, artist: str | None, title: str) -> Media | None:
    stmt = select(Media).where(Media.deleted_at.is_(None), func.lower(Media.title) == title.lower())
    for media in (await call.session.scalars(stmt.limit(50))).all():
        if artist is None or fold(media.artist or "") == fold(artist):
            return media
    return None


ENDPOINTS: dict[str, Handler] = {
    "stream": stream, "download": download, "getCoverArt": get_cover_art, "getAvatar": get_avatar,
    "getLyrics": get_lyrics, "getLyricsBySongId": get_lyrics_by_song_id,
}
