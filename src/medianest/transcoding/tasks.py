"""Transcoding's background work, registered with jobs/: in each serving process, a housekeeping round
every `HOUSEKEEPING_S` stops encoders nobody fetches from, pauses those far ahead of their player and
sweeps the transcode cache back within its bound."""

from __future__ import annotations

from medianest.jobs.queue import Jobs
from medianest.transcoding.service import Transcoding

# Short enough that an abandoned encoder stops within a few seconds of `transcode_idle_s`.
HOUSEKEEPING_S = 1.0


def register(jobs: Jobs, transcoding: Transcoding) -> None:
    jobs.housekeeping("medianest.transcode-housekeeping", HOUSEKEEPING_S)(transcoding.housekeeping)
