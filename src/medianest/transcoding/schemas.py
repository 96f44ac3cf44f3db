"""Shapes of the transcoding API: the playback decision."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AudioTrackOut(BaseModel):
    index: int = Field(description="what `audio_track=` names (0: the file's first audio stream)")
    codec: str
    channels: int
    language: str | None
    title: str | None
    default: bool


class PlaybackOut(BaseModel):
    method: Literal["direct", "remux", "transcode"]
    reason: str = Field(description="why, in words")
    url: str = Field(description="what to hand to the player, relative, carrying a signed media token")
    protocol: Literal["file", "progressive", "hls"] = Field(
        description="file: the file itself (Range); progressive: an audio transcode (seek with `offset=`, "
                    "Ranges once it is cached); hls: a VOD HLS playlist (fMP4) listing the whole duration")
    container: str = Field(description="the container of what `url` delivers")
    video_codec: str | None
    audio_codec: str | None
    duration_s: float | None
    audio_tracks: list[AudioTrackOut]
    audio_track: int = Field(description="the audio track `url` plays")
