"""What a file really holds, read by PyAV (FFmpeg's demuxers), not by its name."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class Probed:
    container: str
    audio_streams: int
    other_streams: int
    duration_s: float
    loudest: float  # the largest sample, 0..1: silence is 0


def probe(path: Path) -> Probed:
    with av.open(str(path)) as container:
        audio = [s for s in container.streams if s.type == "audio"]
        peak = 0
        resampler = av.AudioResampler(format="s16", layout="mono")  # one sample format to read, whatever the codec
        for frame in container.decode(audio=0):
            for plain in resampler.resample(frame):
                samples = array("h", bytes(plain.planes[0])[:plain.samples * 2])
                peak = max(peak, max(samples, default=0), -min(samples, default=0))
        duration = float(container.duration or 0) / 1e6
        return Probed(container.format.name, len(audio), len(container.streams) - len(audio), duration, peak / 32768)
