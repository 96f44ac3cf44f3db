"""A scanned real library (tests/transcoding/media.py) in one in-process app per module and database
backend, for the transcoding API tests; plus `probe_bytes`, which reads what a transcode produced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
import pytest_asyncio

from medianest.app import create_app
from medianest.library.ffmpeg import run_ffmpeg
from tests.conftest import BACKENDS, Api, MigratedTemplates, bearer, make_settings, migrated_database, serving
from tests.transcoding.media import REAL_FILES, make_real_library

SECONDS = 14  # three 6 s segments, the last one short
NOISE_TITLE = "Pink Noise"  # broadband sound, so a lossy encoder spends the bitrate it is given
DOOMED_TITLE = "Doomed Clip"  # a video a test corrupts after the scan
LONG_TITLE = "Long Night"  # five minutes: encoders still running when a test looks


@dataclass
class World:
    api: Api
    token: str
    items: dict[str, dict[str, Any]]  # REAL_FILES name (or title for the extras) -> media item
    root: Path

    @property
    def client(self) -> Any:
        return self.api.client

    @property
    def transcoding(self) -> Any:
        return self.api.app.state.parts.transcoding

    async def get(self, url: str, **kw: Any) -> Any:
        return await self.client.get(url, **kw)

    async def decision(self, name: str, **params: Any) -> dict[str, Any]:
        r = await self.client.get(f"/api/v1/media/{self.items[name]['id']}/playback", params=params,
                                  headers=bearer(self.token))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(backend: str, tmp_path_factory: pytest.TempPathFactory,
                migrated_templates: MigratedTemplates) -> AsyncIterator[World]:
    root = tmp_path_factory.mktemp("transcoding")
    media = root / "media"
    make_real_library(media, SECONDS)
    run_ffmpeg(["-f", "lavfi", "-i", "anoisesrc=d=30:c=pink:a=0.5", "-ac", "2", "-metadata", f"title={NOISE_TITLE}",
                "-c:a", "flac", str(media / "noise.flac")])
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=12:duration=4", "-c:v", "libx264", "-preset",
                "ultrafast", "-metadata", f"title={DOOMED_TITLE}", str(media / "doomed.mkv")])
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=12:duration=300", "-f", "lavfi", "-i",
                "anoisesrc=d=300:c=pink:a=0.3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "ac3", "-ac", "2",
                "-metadata", f"title={LONG_TITLE}", str(media / "long.mkv")])
    async with migrated_database(backend, root, migrated_templates) as url:
        settings = make_settings(root, media, url).model_copy(
            update={"transcode_idle_s": 2.0, "transcode_max": 3})
        async with serving(create_app(settings)) as api:
            token = await api.setup_admin()
            assert (await api.scan())["status"] == "completed"
            by_title = {item["title"]: item for item in await api.all_media(token)}
            items = {spec.name: by_title[spec.title] for spec in REAL_FILES}
            items |= {t: by_title[t] for t in (NOISE_TITLE, DOOMED_TITLE, LONG_TITLE)}
            yield World(api, token, items, root)


def probe_bytes(path: Path) -> dict[str, Any]:
    """What a file holds, read by FFmpeg's demuxers: the first audio and video codecs, the audio bitrate
    (from the stream, else the container), the duration and the first timestamp."""
    with av.open(str(path)) as c:
        audio = c.streams.audio[0] if c.streams.audio else None
        video = c.streams.video[0] if c.streams.video else None
        duration = c.duration / 1_000_000 if c.duration else None
        return {"audio": audio.codec_context.codec.canonical_name if audio else None,
                "video": video.codec_context.codec.canonical_name if video else None,
                "bit_rate": (audio.bit_rate if audio and audio.bit_rate else c.bit_rate),
                "duration": duration, "start": c.start_time / 1_000_000 if c.start_time else 0.0,
                "channels": audio.codec_context.channels if audio else None,
                "height": video.codec_context.height if video else None}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the module-wide `world` run in the module's event loop, where it was made."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and "world" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asyncio(loop_scope="module"), append=False)
