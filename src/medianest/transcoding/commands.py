"""The ffmpeg command lines: a progressive audio transcode, and an HLS run from one segment on.

HLS runs keep the source's timestamps (`-copyts`, and `frag_discont` so each fragment says where it
starts): a run restarted at segment N after a seek writes segments that fit the same timeline. Encoded
video gets a keyframe at every segment boundary (the muxer cuts there, so each segment is exactly
`segment_s` long, whichever run made it); copied video is cut at its own keyframes, nearest after each
boundary.
"""

from __future__ import annotations

from medianest.transcoding.decide import HLS_AUDIO_KBPS, AudioPlan, VideoPlan
from medianest.transcoding.encoders import VideoEncoder
from medianest.transcoding.streams import Streams

BASE = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")
_AUDIO_CODEC = {"mp3": ("libmp3lame",), "opus": ("libopus", "-vbr", "constrained"), "aac": ("aac",),
                "flac": ("flac", "-compression_level", "2")}
_AUDIO_MUXER = {"mp3": ("-f", "mp3", "-write_xing", "1", "-id3v2_version", "3"), "opus": ("-f", "ogg"),
                "aac": ("-f", "adts"), "flac": ("-f", "flac")}
INIT = "init.mp4"
SEGMENT = "s%d.m4s"


def audio_command(ffmpeg: str, source: str, plan: AudioPlan, track: int, offset_s: float, dest: str) -> list[str]:
    """`source`'s audio track `track` from `offset_s` on, as `plan` says, written to the file `dest` (a
    file, not a pipe: the MP3 muxer goes back to fill in its Xing header and FLAC its STREAMINFO, which
    is what lets a player seek in the finished, cached copy)."""
    seek = ("-ss", f"{offset_s:.3f}") if offset_s > 0 else ()
    codec = ("-c:a", "copy") if plan.copy else ("-c:a", *_AUDIO_CODEC[plan.format])
    rate = ("-b:a", f"{plan.kbps}k") if plan.kbps and not plan.copy else ()
    # -flush_packets: each packet reaches the file as it is made (ffmpeg buffers file output otherwise, and
    # the first bytes would wait ~120 ms for its buffer to fill).
    return [ffmpeg, *BASE, *seek, "-i", source, "-map", f"0:a:{track}", "-vn", "-sn", "-dn",
            "-map_metadata", "0", *codec, *rate, "-flush_packets", "1", *_AUDIO_MUXER[plan.format], dest]


def hls_command(ffmpeg: str, source: str, plan: VideoPlan, encoder: VideoEncoder, start: int, segment_s: int,
                streams: Streams) -> list[str]:
    """An HLS run of `source` from segment `start` on, in the current folder (init.mp4, s<N>.m4s)."""
    seek = ("-ss", str(start * segment_s)) if start else ()
    audio = _hls_audio(plan, bool(streams.audio))
    if plan.video == "copy":  # Apple's players want HEVC in MP4 tagged hvc1
        video: tuple[str, ...] = ("-c:v", "copy", *(("-tag:v", "hvc1") if streams.video_codec == "hevc" else ()))
    else:
        video = encoder.args(plan.height if plan.height != streams.height else None, plan.kbps, segment_s)
    return [ffmpeg, *BASE, *encoder.input_args(plan.video == "h264"), *seek, "-i", source,
            "-map", "0:V:0", *audio, "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1", *video,
            "-copyts", "-avoid_negative_ts", "disabled", "-max_muxing_queue_size", "2048",
            "-f", "hls", "-hls_time", str(segment_s), "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT,
            "-start_number", str(start), "-hls_segment_filename", SEGMENT, "-hls_playlist_type", "vod",
            "-hls_list_size", "0", "-hls_flags", "temp_file", "-hls_segment_options", "movflags=+frag_discont",
            "ffmpeg.m3u8"]


def _hls_audio(plan: VideoPlan, has_audio: bool) -> tuple[str, ...]:
    if plan.audio == "none" or not has_audio:
        return ("-an",)
    codec = ("-c:a", "copy") if plan.audio == "copy" else ("-c:a", "aac", "-b:a", f"{HLS_AUDIO_KBPS}k", "-ac", "2")
    return ("-map", f"0:a:{plan.track}", *codec)
