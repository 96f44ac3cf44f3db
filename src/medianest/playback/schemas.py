"""Shapes of the playback API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from medianest.library.schemas import MediaOut

MAX_SECONDS = 10 * 24 * 3600.0  # longer than any real media; guards against absurd numbers


class PlayIn(BaseModel):
    position_s: float | None = Field(default=None, ge=0, le=MAX_SECONDS)
    listened_s: float | None = Field(default=None, ge=0, le=MAX_SECONDS)
    completed: bool = False


class ProgressIn(BaseModel):
    position_s: float = Field(ge=0, le=MAX_SECONDS)


class ProgressOut(BaseModel):
    media_id: str
    position_s: float | None
    updated_at: datetime | None


class PlayOut(BaseModel):
    id: str
    media_id: str
    played_at: datetime
    position_s: float | None
    listened_s: float | None
    completed: bool
    play_count: int


class HistoryEntry(BaseModel):
    id: str
    played_at: datetime
    completed: bool
    listened_s: float | None
    media: MediaOut
