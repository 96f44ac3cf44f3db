"""The H.264 encoder for video transcodes: libx264 (software, in the bundled ffmpeg) by default, or a
hardware one (VAAPI, NVENC, QSV) when configured. A hardware encoder is tried once, on a single frame,
before its first use; one that fails here (no device, no driver) is replaced by libx264, with a warning."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

SOFTWARE = "none"
CHECK_TIMEOUT_S = 15


@dataclass(frozen=True)
class VideoEncoder:
    hwaccel: str = SOFTWARE
    vaapi_device: str = "/dev/dri/renderD128"

    def input_args(self, encoding: bool) -> tuple[str, ...]:
        return ("-vaapi_device", self.vaapi_device) if encoding and self.hwaccel == "vaapi" else ()

    def args(self, height: int | None, kbps: int, segment_s: int) -> tuple[str, ...]:
        """Encode to H.264 (8-bit 4:2:0, what every browser decodes) at `height` (None: as it is), capped
        at `kbps`, with a keyframe at every segment boundary (`t` counts from the run's first frame)."""
        rate = ("-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k")
        keyframes = ("-force_key_frames", f"expr:gte(t,n_forced*{segment_s})")
        scale = f"scale=-2:{height}," if height else ""
        if self.hwaccel == "vaapi":
            size = f",scale_vaapi=w=-2:h={height}" if height else ""
            return ("-vf", f"format=nv12,hwupload{size}", "-c:v", "h264_vaapi", "-b:v", f"{kbps}k", *rate, *keyframes)
        if self.hwaccel == "nvenc":
            return ("-vf", f"{scale}format=yuv420p", "-c:v", "h264_nvenc", "-preset", "p4", "-cq", "23", *rate,
                    *keyframes)
        if self.hwaccel == "qsv":
            return ("-vf", f"{scale}format=nv12", "-c:v", "h264_qsv", "-global_quality", "23", *rate, *keyframes)
        return ("-vf", f"{scale}format=yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                "-profile:v", "high", *rate, *keyframes)


async def usable_encoder(ffmpeg: str, hwaccel: str, vaapi_device: str) -> VideoEncoder:
    """The configured encoder if one frame encodes with it here, else libx264 (logged as a warning)."""
    wanted = VideoEncoder(hwaccel, vaapi_device)
    if hwaccel == SOFTWARE:
        return wanted
    why = await _try(ffmpeg, wanted)
    if why is None:
        return wanted
    log.warning("hardware encoder unusable here; transcoding in software (libx264)", hwaccel=hwaccel, reason=why)
    return VideoEncoder(SOFTWARE, vaapi_device)


async def _try(ffmpeg: str, encoder: VideoEncoder) -> str | None:
    """None when `encoder` encodes a frame, else what went wrong."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *encoder.input_args(True), "-f", "lavfi",
            "-i", "testsrc2=size=320x240:rate=1", "-frames:v", "1", *encoder.args(240, 500, 6), "-f", "null", "-"]
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), CHECK_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return repr(exc)
    if proc.returncode == 0:
        return None
    return " | ".join(err.decode(errors="replace").strip().splitlines()[-2:]) or f"exit {proc.returncode}"
