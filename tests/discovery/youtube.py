"""YouTube's search, offline: yt-dlp's own search extractor runs (the `ytsearchN:words` URL parsed, the
playlist cut to N, its match filter, extractor arguments), and only the step that would ask youtube.com for
result pages (`YoutubeSearchIE._search_results`) is replaced by a catalogue of entries shaped as yt-dlp's
`YoutubeTabBaseInfoExtractor._extract_video` makes them from a search page's video renderers (yt-dlp 2026.08).
`extract_info` is wrapped to record what it was asked; sockets may reach loopback only while installed.

What this cannot show: that youtube.com still answers as yt-dlp expects (its pages change; yt-dlp follows).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yt_dlp
from yt_dlp.extractor.youtube._search import YoutubeSearchIE
from yt_dlp.extractor.youtube._tab import YoutubeTabIE
from yt_dlp.utils import ExtractorError

from medianest.downloads import ytdlp

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def entry(video_id: str, title: str, channel: str = "A Channel", *, duration: int | None = 212,
          views: int | None = 1234, timestamp: int | None = 1_700_000_000, live: bool = False) -> dict[str, Any]:
    """A flat search entry as yt-dlp's YouTube search yields it (`timestamp` only with `approximate_date`)."""
    thumbs = [{"url": f"https://i.ytimg.com/vi/{video_id}/hq720.jpg?sqp=a", "height": 202, "width": 360},
              {"url": f"https://i.ytimg.com/vi/{video_id}/hq720.jpg?sqp=b", "height": 404, "width": 720}]
    return {"_type": "url", "ie_key": "Youtube", "id": video_id, "url": f"https://www.youtube.com/watch?v={video_id}",
            "title": title, "description": None, "duration": duration, "channel_id": "UC" + "x" * 22,
            "channel": channel, "channel_url": "https://www.youtube.com/channel/UC" + "x" * 22, "uploader": channel,
            "uploader_id": "@achannel", "uploader_url": "https://www.youtube.com/@achannel", "thumbnails": thumbs,
            "timestamp": timestamp, "release_timestamp": None, "availability": None,
            "concurrent_view_count" if live else "view_count": views, "live_status": "is_live" if live else None}


@dataclass
class FakeYouTube:
    entries: list[dict[str, Any]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the URLs extract_info was given ("ytsearch5:words")
    searched: list[str] = field(default_factory=list)  # the words the search extractor received
    error: str | None = None  # when set, the search fails with this ExtractorError message
    timeout: bool = False  # when set, the provider's runner reports its deadline passed

    def add(self, video_id: str, title: str, channel: str = "A Channel", **kw: Any) -> None:
        self.entries.append(entry(video_id, title, channel, **kw))

    async def run(self, target: str, args: tuple[Any, ...], allow_private: bool, timeout_s: float) -> dict[str, Any]:
        """`process.run` in this process (the child's `_main` does the same with "search")."""
        assert target == "search"
        if self.timeout:
            raise TimeoutError
        return {"results": ytdlp.search(*args)}

    def _results(self, extractor: YoutubeSearchIE, query: str) -> Iterator[dict[str, Any]]:
        self.searched.append(query)
        if self.error:
            raise ExtractorError(self.error, expected=True)
        dated = bool(extractor._configuration_arg("approximate_date", ie_key=YoutubeTabIE))
        words = query.casefold().split()
        for e in self.entries:
            if all(w in e["title"].casefold() for w in words):
                yield {**e, "timestamp": e["timestamp"] if dated else None}


def install(monkeypatch: pytest.MonkeyPatch) -> FakeYouTube:
    fake = FakeYouTube()
    real = yt_dlp.YoutubeDL.extract_info

    def extract_info(self: yt_dlp.YoutubeDL, url: str, *args: Any, **kwargs: Any) -> Any:
        fake.asked.append(url)
        return real(self, url, *args, **kwargs)

    monkeypatch.setattr(yt_dlp.YoutubeDL, "extract_info", extract_info)
    monkeypatch.setattr(YoutubeSearchIE, "_search_results", lambda self, query: fake._results(self, query))
    _loopback_only(monkeypatch)
    return fake


def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection or name lookup beyond loopback fails the test instead of going out."""
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise AssertionError(f"a test tried to connect to {address}")
        connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (*LOOPBACK, None):
            raise AssertionError(f"a test tried to look up {host!r}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)

