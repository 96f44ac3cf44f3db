"""Shapes of the playlists API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from medianest.library.schemas import MediaOut


class PlaylistIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    is_public: bool = False


class PlaylistPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    is_public: bool | None = None


class ItemIn(BaseModel):
    media_id: str = Field(min_length=1, max_length=32)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="0-based; default: the end")


class ItemMove(BaseModel):
    position: int = Field(ge=0, le=1_000_000)


class PlaylistItemOut(BaseModel):
    id: str
    media_id: str
    position: int
    added_at: datetime
    media: MediaOut


class PlaylistOut(BaseModel):
    id: str
    name: str
    description: str | None
    is_public: bool
    owner_id: str
    item_count: int
    duration_s: float
    created_at: datetime
    updated_at: datetime
    items: list[PlaylistItemOut] | None = None


class ImportResult(BaseModel):
    playlist: PlaylistOut
    matched: int
    unmatched: list[str]
