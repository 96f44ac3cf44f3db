"""Routes: GET /api/v1/media/{id}/playback (the decision) and the HLS rendition it may point at:
/api/v1/media/{id}/hls/{variant}/index.m3u8, init.mp4, <n>.m4s."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from medianest.api.deps import CurrentUser, TranscodingDep, parse_id
from medianest.api.envelope import Envelope, errors, ok
from medianest.api.routes.streaming import AccessDep, ApiKeyHeader, Bearer, TokenQuery
from medianest.errors import InvalidInput, NotFound
from medianest.streaming.access import StreamAccess
from medianest.streaming.response import FileInfo, MediaFileResponse
from medianest.transcoding.decide import (
    AUDIO_CONTAINER,
    BASELINE_AUDIO,
    BASELINE_CONTAINERS,
    BASELINE_VIDEO,
    Capabilities,
    Decision,
    VideoPlan,
)
from medianest.transcoding.hls import Rendition
from medianest.transcoding.schemas import AudioTrackOut, PlaybackOut
from medianest.transcoding.service import Transcoding
from medianest.transcoding.streams import Streams

router = APIRouter(prefix="/api/v1/media", tags=["transcoding"])

Names = Annotated[str | None, Query(max_length=300, pattern=r"^[a-z0-9_.,\-]*$")]
# A rendition's name (decide.VideoPlan.name): copy_aac_0, h264-720-3000_copy_1, ...
_VARIANT = re.compile(r"(copy|h264-(\d{2,4})-(\d{3,6}))_(copy|aac|none)_(\d{1,2})")
SEGMENT: dict[str, Any] = {"description": "An fMP4 segment", "content": {"video/mp4": {}}}
FAILED: dict[int | str, dict[str, Any]] = {**errors(401, 403, 404, 422)}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {
    **errors(503)[503], "description": "UNAVAILABLE: the item's folder is offline, or every transcoder is in use "
                                       "(Retry-After)"}}


def _names(value: str | None, default: frozenset[str]) -> frozenset[str]:
    return default if value is None else frozenset(v for v in value.split(",") if v)


@router.get("/{media_id}/playback", responses={**errors(401, 403, 404, 422), **UNAVAILABLE})
async def playback(media_id: str, user: CurrentUser, access: AccessDep, transcoding: TranscodingDep,
                   containers: Names = None, video: Names = None, audio: Names = None,
                   max_height: Annotated[int | None, Query(ge=144, le=4320)] = None,
                   max_bitrate: Annotated[int | None, Query(ge=32, le=200_000, description="kbit/s")] = None,
                   audio_track: Annotated[int | None, Query(ge=0, le=63)] = None) -> Envelope[PlaybackOut]:
    """How this client should play the item - direct, remux or transcode - and the URL to hand its player.
    Capabilities are comma-separated FFmpeg names (containers: mp4, webm, matroska, ogg, mp3, flac, wav...;
    video: h264, h264_10bit, h264_422, hevc, vp9, av1...; audio: aac, mp3, opus, vorbis, flac, alac, ac3,
    pcm...); left out, a baseline browser's."""
    mid = parse_id(media_id, "media")
    _, info = await access.file(mid)
    caps = Capabilities(_names(containers, BASELINE_CONTAINERS), _names(video, BASELINE_VIDEO),
                        _names(audio, BASELINE_AUDIO), max_height, max_bitrate)
    streams, decision = await transcoding.decision(info, caps, audio_track)
    token = access.signer.media_token(user.id, mid, user.token_epoch)
    return ok(_playback_out(mid, streams, decision, token))


def _playback_out(mid: int, streams: Streams, decision: Decision, token: str) -> PlaybackOut:
    base = f"/api/v1/media/{mid}"
    tracks = [AudioTrackOut(**t.__dict__) for t in streams.audio]
    chosen = streams.audio[decision.track].codec if streams.audio else None
    common: dict[str, Any] = {"method": decision.method, "reason": decision.reason, "duration_s": streams.duration_s,
                              "audio_tracks": tracks, "audio_track": decision.track}
    if decision.video is not None:
        plan = decision.video
        video = streams.video_codec if plan.video == "copy" else "h264"
        sound = None if plan.audio == "none" else chosen if plan.audio == "copy" else "aac"
        return PlaybackOut(**common, url=f"{base}/hls/{plan.name}/index.m3u8?token={token}", protocol="hls",
                           container="mp4", video_codec=video, audio_codec=sound)
    if decision.audio is not None:
        a = decision.audio
        query = f"token={token}&format={a.format}" + (f"&bitrate={a.kbps}" if a.kbps else "")
        query += f"&audio_track={decision.track}" if len(streams.audio) > 1 else ""
        return PlaybackOut(**common, url=f"{base}/stream?{query}", protocol="progressive",
                           container=AUDIO_CONTAINER[a.format], video_codec=None, audio_codec=a.format)
    return PlaybackOut(**common, url=f"{base}/stream?token={token}", protocol="file", container=streams.container,
                       video_codec=streams.video_codec, audio_codec=chosen)


def parse_variant(variant: str) -> VideoPlan:
    match = _VARIANT.fullmatch(variant)
    if match is None:
        raise NotFound("rendition", variant)
    video, height, kbps, audio, track = match.groups()
    if video != "copy" and not (144 <= int(height) <= 4320 and 200 <= int(kbps) <= 100_000):
        raise InvalidInput("variant", "size or bitrate out of range")
    return VideoPlan("copy" if video == "copy" else "h264", cast(Literal["copy", "aac", "none"], audio), int(track),
                     int(height or 0), int(kbps or 0))


async def _rendition(access: StreamAccess, transcoding: Transcoding, media_id: str, variant: str, token: str | None,
                     bearer: Bearer, api_key: str | None) -> tuple[Rendition, str]:
    """The rendition, for a caller allowed to read the item, and the media token its URLs carry."""
    mid = parse_id(media_id, "media")
    caller = await access.caller_for(mid, token, bearer.credentials if bearer else None, api_key)
    await access.check_user(caller)
    _, info = await access.file(mid)
    rendition = await transcoding.rendition(mid, info, parse_variant(variant))
    minted = token if token and access.claims(token, "media") else await access.media_token(caller, mid)
    return rendition, minted


@router.get("/{media_id}/hls/{variant}/index.m3u8", response_class=Response,
            responses={200: {"content": {"application/vnd.apple.mpegurl": {}}, "description": "VOD playlist"},
                       **FAILED, **UNAVAILABLE})
async def hls_playlist(media_id: str, variant: str, access: AccessDep, transcoding: TranscodingDep, bearer: Bearer,
                       api_key: ApiKeyHeader = None, token: TokenQuery = None) -> Response:
    """The rendition's whole duration as a VOD playlist; segments are made when asked for."""
    rendition, minted = await _rendition(access, transcoding, media_id, variant, token, bearer, api_key)
    return Response(transcoding.hls.playlist(rendition, minted), media_type="application/vnd.apple.mpegurl",
                    headers={"cache-control": "private, no-cache"})


@router.get("/{media_id}/hls/{variant}/init.mp4", response_class=MediaFileResponse, status_code=200,
            responses={200: SEGMENT, **FAILED, **UNAVAILABLE})
async def hls_init(media_id: str, variant: str, access: AccessDep, transcoding: TranscodingDep, bearer: Bearer,
                   api_key: ApiKeyHeader = None, token: TokenQuery = None) -> MediaFileResponse:
    rendition, _ = await _rendition(access, transcoding, media_id, variant, token, bearer, api_key)
    return _segment_response(str(await transcoding.hls.init(rendition)))


@router.get("/{media_id}/hls/{variant}/{segment}.m4s", response_class=MediaFileResponse, status_code=200,
            responses={200: SEGMENT, **FAILED, **UNAVAILABLE})
async def hls_segment(media_id: str, variant: str, segment: Annotated[int, Path(ge=0, le=1_000_000)],
                      access: AccessDep, transcoding: TranscodingDep, bearer: Bearer, api_key: ApiKeyHeader = None,
                      token: TokenQuery = None) -> MediaFileResponse:
    """Segment `segment` (from 0), made now unless it was made before."""
    rendition, _ = await _rendition(access, transcoding, media_id, variant, token, bearer, api_key)
    return _segment_response(str(await transcoding.hls.segment(rendition, segment)))


def _segment_response(path: str) -> MediaFileResponse:
    st = os.stat(path)
    # A segment's bytes never change once made (its name holds the source's size and mtime).
    return MediaFileResponse(FileInfo(path, st.st_size, st.st_mtime, "video/mp4"),
                             {"cache-control": "private, max-age=3600"})
