"""Response and request shapes of the subtitles API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from medianest.inputs import Input
from medianest.integrations.opensubtitles import Found
from medianest.subtitles.files import TEXT_CODECS
from medianest.subtitles.models import EMBEDDED, Subtitle


class SubtitleOut(BaseModel):
    id: str
    source: str = Field(description="sidecar (a file beside the video) or embedded (a stream inside it)")
    format: str
    language: str | None
    title: str | None
    forced: bool
    hearing_impaired: bool
    provider: str | None
    convertible: bool = Field(description="false for picture subtitles (PGS, VobSub), which have no WebVTT form")
    url: str | None = Field(description="the WebVTT, with a signed token, for <track src>")

    @classmethod
    def of(cls, row: Subtitle, token: str) -> SubtitleOut:
        convertible = row.source != EMBEDDED or row.format in TEXT_CODECS
        url = f"/api/v1/media/{row.media_id}/subtitles/{row.id}.vtt?token={token}" if convertible else None
        return cls(id=str(row.id), source=row.source, format=row.format, language=row.language, title=row.title,
                   forced=row.forced, hearing_impaired=row.hearing_impaired, provider=row.provider,
                   convertible=convertible, url=url)


class FoundOut(BaseModel):
    file_id: int
    file_name: str | None
    language: str | None
    release: str | None
    title: str | None
    year: int | None
    downloads: int
    hearing_impaired: bool
    hash_match: bool = Field(description="made for this very file (its moviehash matched)")

    @classmethod
    def of(cls, found: Found) -> FoundOut:
        return cls(**found.__dict__)


class DownloadIn(Input):
    file_id: int = Field(ge=1, le=2**53)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[a-zA-Z0-9]{2,8})?$",
                                 description="used in the file name, e.g. Movie.en.srt")
