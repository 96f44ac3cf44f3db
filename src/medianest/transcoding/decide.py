"""The playback decision: for one file and one client, direct play, a remux or a transcode, and why.

- direct: the client plays the container and every stream it would get (the file as it is);
- remux: only the container is wrong (or the client wants another audio track): the streams are copied
  into fragmented MP4 (HLS for video, a plain audio stream for audio);
- transcode: the streams the client cannot decode (or that are too big for its limits) are encoded again
  - video to H.264, audio to AAC in HLS; audio files to FLAC (lossless sources), MP3, Opus or AAC - and
  the others are copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from medianest.transcoding.streams import AudioTrack, Streams

Method = Literal["direct", "remux", "transcode"]
AudioFormat = Literal["mp3", "opus", "aac", "flac"]

# What a browser plays when it says nothing of itself (MP4/WebM, H.264/VP9/AV1, AAC/Opus/MP3/FLAC/Vorbis),
# with the plain audio files every such browser plays too (MP3, FLAC, Ogg, WAV).
BASELINE_CONTAINERS = frozenset({"mp4", "webm", "mp3", "flac", "ogg", "wav"})
BASELINE_VIDEO = frozenset({"h264", "vp9", "av1"})
BASELINE_AUDIO = frozenset({"aac", "opus", "mp3", "flac", "vorbis", "pcm"})
# What fragmented MP4 carries that browsers' MediaSource accepts: these are copied, the rest encoded.
# (Not MP3: Chromium's MediaSource refuses it in fMP4, though it plays MP3 files.)
FMP4_VIDEO = frozenset({"h264", "hevc", "av1", "vp9"})
FMP4_AUDIO = frozenset({"aac", "opus", "flac", "ac3", "eac3"})
LOSSLESS = frozenset({"flac", "alac", "pcm", "wavpack", "ape", "wmalossless", "tta", "mlp", "truehd"})
# The audio formats a progressive transcode writes, in the order they are preferred when a client takes
# several (FLAC only for lossless sources: there it keeps every bit, elsewhere it only inflates).
AUDIO_ORDER: tuple[AudioFormat, ...] = ("mp3", "opus", "aac")
AUDIO_CONTAINER: dict[str, str] = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac"}
# Each audio codec's own file type: a client that decodes the codec plays such a file, whatever containers
# it lists (one that lists `mp3` plays .mp3 files).
OWN_CONTAINER = {**AUDIO_CONTAINER, "vorbis": "ogg", "pcm": "wav"}
DEFAULT_KBPS: dict[str, int] = {"mp3": 192, "opus": 128, "aac": 192}
HLS_AUDIO_KBPS = 160


@dataclass(frozen=True)
class Capabilities:
    """What a client plays (lower-case names as FFmpeg spells codecs; `h264_10bit` and `h264_422` for the
    H.264 profiles beyond 8-bit 4:2:0) and its limits (`max_height` in pixels, `max_kbps` in kbit/s)."""

    containers: frozenset[str] = BASELINE_CONTAINERS
    video: frozenset[str] = BASELINE_VIDEO
    audio: frozenset[str] = BASELINE_AUDIO
    max_height: int | None = None
    max_kbps: int | None = None


@dataclass(frozen=True)
class VideoPlan:
    """An HLS rendition: video copied or encoded to H.264 at `height` and `kbps`; audio track `track`
    copied, encoded to AAC, or absent. `name` is its path segment in the HLS URLs."""

    video: Literal["copy", "h264"]
    audio: Literal["copy", "aac", "none"]
    track: int = 0
    height: int = 0  # 0: the source's (copy)
    kbps: int = 0

    @property
    def name(self) -> str:
        video = "copy" if self.video == "copy" else f"h264-{self.height}-{self.kbps}"
        return f"{video}_{self.audio}_{self.track}"


@dataclass(frozen=True)
class AudioPlan:
    """A progressive audio stream: `format` at `kbps` (None for FLAC), or the codec copied (`copy`)."""

    format: AudioFormat
    kbps: int | None
    copy: bool = False


@dataclass(frozen=True)
class Decision:
    method: Method
    reason: str
    video: VideoPlan | None = None  # HLS, for video that is not played directly
    audio: AudioPlan | None = None  # progressive, for audio that is not played directly
    track: int = 0


def decide(streams: Streams, caps: Capabilities, track: int | None = None) -> Decision:
    """The decision for `streams` on a client with `caps`; `track`: the audio track asked for (None: the
    file's default)."""
    chosen = _track(streams, track)
    other_track = chosen != _track(streams, None)  # direct play gives the file's default track only
    if streams.video_codec is None:
        return _decide_audio(streams, caps, chosen, other_track)
    return _decide_video(streams, caps, chosen, other_track)


def _track(streams: Streams, track: int | None) -> AudioTrack | None:
    if not streams.audio:
        return None
    if track is not None and 0 <= track < len(streams.audio):
        return streams.audio[track]
    return next((t for t in streams.audio if t.default), streams.audio[0])


def codec_family(codec: str) -> str:
    """FFmpeg's codec names grouped as clients name them (pcm_s16le -> pcm)."""
    return "pcm" if codec.startswith("pcm_") else codec


def _decide_audio(streams: Streams, caps: Capabilities, track: AudioTrack | None, other_track: bool) -> Decision:
    assert track is not None  # streams_of refuses a file with neither audio nor video
    codec = codec_family(track.codec)
    too_big = caps.max_kbps is not None and (streams.bitrate or 0) > caps.max_kbps * 1000
    container_ok = streams.container in caps.containers or OWN_CONTAINER.get(codec) == streams.container
    if codec in caps.audio and container_ok and not too_big and not other_track:
        return Decision("direct", f"the client plays {_name(codec)} in {_name(streams.container)}", track=track.index)
    fmt = _audio_format(codec, caps)
    why = _audio_why(codec, streams.container, caps, too_big, other_track)
    if fmt == codec and not too_big:  # only the container (or track) is wrong: copy the codec
        return Decision("remux", f"{why}; the {_name(codec)} audio is copied into {_name(AUDIO_CONTAINER[fmt])}",
                        audio=AudioPlan(fmt, None, copy=True), track=track.index)
    kbps = None if fmt == "flac" else min(DEFAULT_KBPS[fmt], caps.max_kbps or DEFAULT_KBPS[fmt])
    target = _name(fmt) + (f" {kbps} kbit/s" if kbps else "")
    return Decision("transcode", f"{why}; transcoding to {target}", audio=AudioPlan(fmt, kbps), track=track.index)


def _audio_format(codec: str, caps: Capabilities) -> AudioFormat:
    if codec in LOSSLESS and "flac" in caps.audio and caps.max_kbps is None:
        return "flac"
    if codec in AUDIO_ORDER and codec in caps.audio:
        return cast(AudioFormat, codec)
    return next((f for f in AUDIO_ORDER if f in caps.audio), "mp3")


def _audio_why(codec: str, container: str, caps: Capabilities, too_big: bool, other_track: bool) -> str:
    if codec not in caps.audio:
        return f"the client cannot decode {_name(codec)} audio"
    if container not in caps.containers:
        return f"the client cannot open {_name(container)} files"
    if too_big:
        return f"the file is above the client's {caps.max_kbps} kbit/s"
    return "another audio track was asked for" if other_track else "the client asked for another format"


def _decide_video(streams: Streams, caps: Capabilities, track: AudioTrack | None, other_track: bool) -> Decision:
    variant = streams.video_variant or ""
    height_ok = caps.max_height is None or (streams.height or 0) <= caps.max_height
    rate_ok = caps.max_kbps is None or (streams.bitrate or 0) <= caps.max_kbps * 1000
    video_ok = variant in caps.video and height_ok and rate_ok
    audio_codec = codec_family(track.codec) if track else None
    audio_ok = audio_codec is None or audio_codec in caps.audio
    container_ok = streams.container in caps.containers
    index = track.index if track else 0
    if video_ok and audio_ok and container_ok and not other_track:
        return Decision("direct", f"the client plays {_name(variant)} video{_with(audio_codec)} in "
                                  f"{_name(streams.container)}", track=index)
    plan = _video_plan(streams, caps, video_ok, audio_codec, audio_ok, index)
    reasons = _video_why(streams, caps, variant, video_ok, height_ok, rate_ok, audio_codec, audio_ok,
                         container_ok, other_track)
    method: Method = "remux" if plan.video == "copy" and plan.audio in ("copy", "none") else "transcode"
    return Decision(method, "; ".join(reasons) + "; " + _plan_words(plan, variant, audio_codec), video=plan,
                    track=index)


def _video_plan(streams: Streams, caps: Capabilities, video_ok: bool, audio_codec: str | None, audio_ok: bool,
                track: int) -> VideoPlan:
    copy_video = video_ok and streams.video_codec in FMP4_VIDEO and streams.video_variant == streams.video_codec
    audio: Literal["copy", "aac", "none"] = "none" if audio_codec is None else (
        "copy" if audio_ok and audio_codec in FMP4_AUDIO and audio_codec in caps.audio else "aac")
    if copy_video:
        return VideoPlan("copy", audio, track)
    source = streams.height or 1080
    height = min(source, caps.max_height or source)
    height -= height % 2  # H.264 in 4:2:0 needs even sizes
    kbps = _video_kbps(height)
    if caps.max_kbps is not None:
        kbps = max(200, min(kbps, caps.max_kbps - (HLS_AUDIO_KBPS if audio != "none" else 0)))
    return VideoPlan("h264", audio, track, height, kbps)


def _video_kbps(height: int) -> int:
    """A bitrate cap that looks right at each size (the encoder aims at constant quality below it)."""
    return 1500 if height <= 480 else 3000 if height <= 720 else 6000 if height <= 1080 else 12000


def _video_why(streams: Streams, caps: Capabilities, variant: str, video_ok: bool, height_ok: bool, rate_ok: bool,
               audio_codec: str | None, audio_ok: bool, container_ok: bool, other_track: bool) -> list[str]:
    reasons = []
    if variant not in caps.video:
        reasons.append(f"the client cannot decode {_name(variant)} video")
    elif not height_ok:
        reasons.append(f"the video is {streams.height}p, above the client's {caps.max_height}p")
    elif not rate_ok:
        reasons.append(f"the file is above the client's {caps.max_kbps} kbit/s")
    if audio_codec is not None and not audio_ok:
        reasons.append(f"the client cannot decode {_name(audio_codec)} audio")
    if not container_ok:
        reasons.append(f"the client cannot open {_name(streams.container)} files")
    if other_track:
        reasons.append("another audio track was asked for")
    return reasons or ["the client asked for HLS"]


def _plan_words(plan: VideoPlan, variant: str, audio_codec: str | None) -> str:
    video = f"{_name(variant)} video copied" if plan.video == "copy" else f"video encoded to H.264 {plan.height}p"
    audio = {"copy": f", {_name(audio_codec or '')} audio copied", "aac": ", audio encoded to AAC",
             "none": ""}[plan.audio]
    return f"{video}{audio} into fragmented MP4 (HLS)"


def _with(audio_codec: str | None) -> str:
    return f" with {_name(audio_codec)} audio" if audio_codec else ""


_NAMES = {"h264": "H.264", "h264_10bit": "10-bit H.264", "h264_422": "4:2:2 H.264", "h264_444": "4:4:4 H.264",
          "hevc": "HEVC", "mpeg4": "MPEG-4 Part 2", "aac": "AAC", "ac3": "Dolby Digital (AC-3)",
          "eac3": "Dolby Digital Plus (E-AC-3)", "dts": "DTS", "alac": "ALAC", "wmav2": "WMA", "wmav1": "WMA",
          "wmapro": "WMA Pro", "mp3": "MP3", "opus": "Opus", "flac": "FLAC", "vorbis": "Vorbis", "pcm": "PCM",
          "matroska": "Matroska (MKV)", "avi": "AVI", "asf": "ASF (WMA/WMV)", "mp4": "MP4", "ogg": "Ogg",
          "wav": "WAV", "vc1": "VC-1", "aac_latm": "AAC"}


def _name(codec: str) -> str:
    return _NAMES.get(codec, codec.upper())
