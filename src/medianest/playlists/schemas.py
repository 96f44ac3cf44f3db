"""Shapes of the playlists API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from medianest.library.schemas import MediaOut

# A name is one line with something visible in it: control characters are refused (PostgreSQL cannot
# store NUL at all, a 500) and so is a name of only spaces. The pattern says so in the OpenAPI document;
# stripping keeps stored names tidy.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # tabs and line breaks allowed
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255,
                                        pattern=NAME_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=4000, pattern=TEXT_PATTERN)]


class PlaylistIn(BaseModel):
    name: Name
    description: Description | None = None
    is_public: bool = False


class PlaylistPatch(BaseModel):
    name: Name | None = None
    description: Description | None = None
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
