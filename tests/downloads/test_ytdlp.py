"""What the yt-dlp layer decides on its own: which format a quality picks, what counts as transient."""

from __future__ import annotations

from typing import Any

import pytest
import yt_dlp

from medianest.downloads import process
from medianest.downloads.ytdlp import Failure, Spec, classify, options
from tests.downloads.mediaserver import MediaServer


def _pick(mode: str, quality: str, heights: tuple[int, ...]) -> dict[str, Any]:
    """yt-dlp's own format selection, with our options, over a video offered at `heights` (video-only
    streams plus one audio stream, as the big sites serve them); nothing is fetched."""
    formats: list[dict[str, Any]] = [
        {"format_id": f"v{h}", "height": h, "width": h * 16 // 9, "vcodec": "avc1", "acodec": "none",
         "ext": "mp4", "url": f"http://127.0.0.1:9/v{h}", "tbr": h} for h in heights]
    formats.append({"format_id": "a", "vcodec": "none", "acodec": "mp4a", "ext": "m4a",
                    "url": "http://127.0.0.1:9/a", "abr": 128})
    info = {"id": "x", "title": "x", "formats": formats, "extractor": "test", "extractor_key": "Test",
            "webpage_url": "http://127.0.0.1:9/"}
    with yt_dlp.YoutubeDL(options(Spec(url="http://127.0.0.1:9/", mode=mode, quality=quality))) as ydl:
        chosen: dict[str, Any] = ydl.process_ie_result(info, download=False)
    return chosen


@pytest.mark.parametrize(("quality", "expected"), [
    ("best", "v1080+a"), ("1080p", "v1080+a"), ("2160p", "v1080+a"),  # the best there is, at most 2160p
    ("720p", "v720+a"), ("480p", "v360+a"),  # no 480p: the nearest lower one
    ("360p", "v360+a"),
])
def test_a_quality_picks_the_nearest_lower_format(quality: str, expected: str) -> None:
    assert _pick("video", quality, (1080, 720, 360))["format_id"] == expected


def test_when_everything_is_taller_the_smallest_is_taken() -> None:
    assert _pick("video", "360p", (1080, 720))["format_id"] == "v720+a"


def test_audio_mode_takes_the_audio_stream() -> None:
    assert _pick("audio", "best", (1080, 720))["format_id"] == "a"


@pytest.mark.parametrize(("message", "transient"), [
    ("ERROR: [generic] x: HTTP Error 404: Not Found", False),
    ("ERROR: Unsupported URL: http://example.invalid/", False),
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", False),
    ("ERROR: unable to download video data: HTTP Error 503: Service Unavailable", True),
    ("ERROR: [download] Got error: 1000000 bytes read, 2046022 more expected", True),
    ("ERROR: unable to download video data: <urlopen error [Errno 111] Connection refused>", True),
    ("ERROR: something nobody has seen before", False),
])
def test_failures_are_told_apart(message: str, transient: bool) -> None:
    failure = classify(Exception(message))
    assert failure.transient is transient and not failure.reason.startswith("ERROR")


async def test_the_download_process_cannot_connect_to_private_addresses(server: MediaServer) -> None:
    """Defence in depth behind the API's URL check: whatever the child is asked to fetch (a redirect's
    target, a URL an extractor found), a private address does not resolve inside it."""
    url = server.url("/media/clip.mp4")
    with pytest.raises(Failure) as refused:
        await process.run("entries", (url, None, None), allow_private=False, timeout_s=120)
    assert "private" in refused.value.reason and not refused.value.transient
    assert server.requests == []  # not one byte asked for
    allowed = await process.run("entries", (url, None, None), allow_private=True, timeout_s=120)
    assert allowed["id"] == "clip" and server.requests != []
