"""A video's subtitles: listed (sidecars re-read from disk each time, so a file dropped beside the video
shows up without a rescan; embedded streams read from the container), served as WebVTT, searched and
downloaded from OpenSubtitles into a sidecar beside the video."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.config import Settings
from medianest.connections.clients import Integrations
from medianest.connections.models import ServiceConfig
from medianest.errors import BadRequest, NotFound, UpstreamError, UpstreamUnavailable
from medianest.integrations.opensubtitles import Found as OsFound
from medianest.integrations.opensubtitles import moviehash
from medianest.library.ffmpeg import ffmpeg_exe
from medianest.library.models import KIND_VIDEO, Media
from medianest.library.service import servable_path
from medianest.library.walk import inside
from medianest.subtitles import convert, files
from medianest.subtitles.models import EMBEDDED, SIDECAR, Subtitle

log = structlog.get_logger(__name__)


async def index(session: AsyncSession, media: Media, with_embedded: bool = True) -> list[Subtitle]:
    """Bring the item's subtitle rows in line with the disk (and, `with_embedded`, its streams)."""
    if media.kind != KIND_VIDEO:
        return []
    video = Path(media.path)
    found = await asyncio.to_thread(files.sidecars, video)
    if with_embedded:
        found += await asyncio.to_thread(files.embedded, video)
    rows = list((await session.scalars(select(Subtitle).where(Subtitle.media_id == media.id))).all())
    await _apply(session, media.id, rows, found, with_embedded)
    return list((await session.scalars(select(Subtitle).where(Subtitle.media_id == media.id)
                                       .order_by(Subtitle.source.desc(), Subtitle.language, Subtitle.id))).all())


async def _apply(session: AsyncSession, media_id: int, rows: list[Subtitle], found: list[files.Found],
                 with_embedded: bool) -> None:
    keys = {(f.path, f.stream_index) for f in found}
    for row in rows:
        if (row.path, row.stream_index) not in keys and (row.source == SIDECAR or with_embedded):
            await session.delete(row)
    known = {(r.path, r.stream_index) for r in rows}
    for f in found:
        if (f.path, f.stream_index) not in known:
            session.add(Subtitle(media_id=media_id, source=SIDECAR if f.path else EMBEDDED, path=f.path,
                                 stream_index=f.stream_index, format=f.format, language=f.language, title=f.title,
                                 forced=f.forced, hearing_impaired=f.hearing_impaired))
    await session.commit()


async def vtt(session: AsyncSession, settings: Settings, media: Media, subtitle_id: int) -> str:
    row = await session.scalar(select(Subtitle).where(Subtitle.id == subtitle_id, Subtitle.media_id == media.id))
    if row is None:
        raise NotFound("subtitle", subtitle_id)
    if row.source == EMBEDDED:
        if row.format not in files.TEXT_CODECS:
            raise BadRequest(f"{row.format} subtitles are pictures; they cannot be shown as WebVTT")
        video = Path(servable_path(media, settings.library_dirs))
        return await asyncio.to_thread(convert.embedded_vtt, video, int(row.stream_index or 0),
                                       settings.data_dir / "subtitles-cache", ffmpeg_exe(settings.ffmpeg_path))
    return await asyncio.to_thread(convert.sidecar_vtt, _servable_sidecar(row, settings), row.format)


def _servable_sidecar(row: Subtitle, settings: Settings) -> Path:
    """The file, only while it is a regular file inside a media folder (a sidecar swapped for a link
    to elsewhere is not followed out)."""
    real = os.path.realpath(row.path or "")
    if not inside(real, [str(r) for r in settings.library_dirs]) or not os.path.isfile(real):
        raise NotFound("subtitle", row.id)
    return Path(real)


async def opensubtitles(session: AsyncSession) -> ServiceConfig:
    config = await session.scalar(select(ServiceConfig).where(ServiceConfig.kind == "opensubtitles",
                                                             ServiceConfig.enabled).order_by(ServiceConfig.id))
    if config is None:
        raise UpstreamUnavailable("OpenSubtitles", "not configured (add an opensubtitles connection)")
    return config


async def search(session: AsyncSession, integrations: Integrations, settings: Settings, media: Media,
                 languages: list[str]) -> list[OsFound]:
    """By the file's moviehash (exact release) and by its title, hash matches first."""
    config = await opensubtitles(session)
    video = Path(servable_path(media, settings.library_dirs))
    try:
        digest: str | None = await asyncio.to_thread(moviehash, video)
    except (OSError, ValueError):
        digest = None  # too small to hash: the title alone
    client = integrations.opensubtitles(config)
    found = await client.search(digest, None, languages) if digest else []
    by_title = await client.search(None, media.title, languages)
    seen = {f.file_id for f in found}
    return found + [f for f in by_title if f.file_id not in seen]


async def download(session: AsyncSession, integrations: Integrations, settings: Settings, media: Media,
                   file_id: int, language: str | None) -> Subtitle:
    """Fetch one file and store it beside the video as `<video>.<lang>.srt`; the row points at it."""
    config = await opensubtitles(session)
    video = Path(servable_path(media, settings.library_dirs))
    name, content = await integrations.opensubtitles(config).download(file_id)
    fmt = files.SIDECAR_FORMATS.get(Path(name).suffix.lower(), "srt")
    if not convert.parse(convert.decode(content), fmt).events:  # an HTML error page parses as no cues
        raise UpstreamError("OpenSubtitles", "sent a file that is not a subtitle")
    path = await asyncio.to_thread(_write_beside, video, language, f".{fmt}", content)
    row = Subtitle(media_id=media.id, source=SIDECAR, path=str(path), format=fmt, language=language,
                   provider="opensubtitles")
    session.add(row)
    try:
        await session.commit()
    except Exception:
        path.unlink(missing_ok=True)  # no file without its row
        raise
    return row


def _write_beside(video: Path, language: str | None, suffix: str, content: bytes) -> Path:
    for _ in range(3):  # another download may take the same name between looking and creating
        path = files.free_name(video, language, suffix)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
        except OSError:
            path.unlink(missing_ok=True)  # a disk that filled up leaves no half subtitle behind
            raise
        return path
    raise FileExistsError(f"could not find a free name beside {video.name}")
