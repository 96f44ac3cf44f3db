"""Request and response shapes of the media requests API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from medianest.inputs import Input
from medianest.integrations.seerr import POSTER_BASE, POSTER_PATH
from medianest.requests.models import MediaRequest
from medianest.text import clean_line

MediaType = Literal["movie", "tv"]
RequestStatus = Literal["pending", "approved", "declined", "processing", "available", "failed"]
Availability = Literal["available", "partially_available", "processing", "requested", "not_requested"]


def poster_url(path: str | None) -> str | None:
    return f"{POSTER_BASE}{path}" if path and path.startswith("/") else None


class RequestIn(Input):
    media_type: MediaType
    tmdb_id: int = Field(ge=1, le=2**31 - 1)
    title: str = Field(min_length=1, max_length=1024, description="as the search gave it; control characters go")
    seasons: list[int] | None = Field(default=None, max_length=200, description="tv only; omitted: all seasons")
    year: int | None = Field(default=None, ge=1800, le=3000)
    poster_path: str | None = Field(default=None, max_length=255, pattern=POSTER_PATH.pattern)

    @field_validator("title")
    @classmethod
    def _one_clean_line(cls, title: str) -> str:
        """The title comes from Seerr through the client: stored as one clean line (no controls or bidi
        overrides), and something must be left of it."""
        cleaned = clean_line(title)
        if not cleaned:
            raise ValueError("must contain visible characters")
        return cleaned


class RequestOut(BaseModel):
    id: str
    user_id: str
    media_type: MediaType
    tmdb_id: int
    title: str
    year: int | None
    poster_url: str | None
    seasons: list[int] | None
    status: RequestStatus
    seerr_id: int | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    synced_at: datetime | None

    @classmethod
    def of(cls, row: MediaRequest) -> RequestOut:
        return cls(id=str(row.id), user_id=str(row.user_id), media_type=row.media_type,
                   tmdb_id=row.tmdb_id, title=row.title, year=row.year, poster_url=poster_url(row.poster_path),
                   seasons=row.seasons, status=row.status, seerr_id=row.seerr_id,
                   error=row.error, created_at=row.created_at, updated_at=row.updated_at, synced_at=row.synced_at)


class SearchResultOut(BaseModel):
    media_type: MediaType
    tmdb_id: int
    title: str
    year: int | None
    overview: str
    poster_path: str | None
    poster_url: str | None
    availability: Availability
    request_id: str | None = Field(description="the caller's own request for this title, if any")


class SearchMeta(BaseModel):
    page: int
    per_page: int
    total: int
    total_pages: int
    has_more: bool
    stale: bool = Field(description="Seerr could not be asked; these are the last results it gave")


class SearchPageOut(BaseModel):
    data: list[SearchResultOut]
    meta: SearchMeta
