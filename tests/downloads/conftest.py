"""Download tests: a real yt-dlp against `MediaServer` on 127.0.0.1, the app's own queue consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medianest.config import Settings
from tests.conftest import CHEAP_PASSWORDS, Api, bearer
from tests.downloads.mediaserver import MediaServer, make_audio, make_video

BIG = 3_000_000  # bytes: enough to throttle, cancel and drop mid-way


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("download-sources")
    return {"clip": make_video(root / "clip.mp4", seconds=2, title="Clip Title"),
            "big": make_video(root / "big.mp4", seconds=2, padding_bytes=BIG),
            "song": make_audio(root / "song.mp3", seconds=2, title="Song Title")}


@pytest.fixture
def server(sources: dict[str, Path]) -> Iterator[MediaServer]:
    with MediaServer() as media:
        media.add_file("/media/clip.mp4", sources["clip"], "video/mp4")
        media.add_file("/media/big.mp4", sources["big"], "video/mp4")
        media.add_file("/media/song.mp3", sources["song"], "audio/mpeg")
        yield media


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    library = tmp_path / "library"
    library.mkdir()
    return Settings(data_dir=tmp_path / "data", media_dirs=[library], database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING",
                    downloads_allow_private_networks=True, downloads_retry_backoff_s=0.2,
                    downloads_stale_after_s=4,
                    # wait_status polls 10 times a second: on a slow machine a download outlasts the default
                    # 100 calls a minute and the poll itself would be refused. The downloads limit stays on.
                    api_rate_limit="100000/minute", **CHEAP_PASSWORDS)


async def wait_status(api: Api, token: str, download_id: str, *statuses: str,
                      timeout_s: float = 90) -> dict[str, Any]:
    """The download once it reaches one of `statuses` (a deadline against hangs, not a speed check)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = await api.client.get(f"/api/v1/downloads/{download_id}", headers=bearer(token))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        if data["status"] in statuses:
            return data
        assert time.monotonic() < deadline, f"still {data['status']}: {data}"
        await asyncio.sleep(0.1)


async def queue(api: Api, token: str, url: str, **body: Any) -> dict[str, Any]:
    r = await api.client.post("/api/v1/downloads", json={"url": url, **body}, headers=bearer(token))
    assert r.status_code == 202, r.text
    data: dict[str, Any] = r.json()["data"]
    return data
