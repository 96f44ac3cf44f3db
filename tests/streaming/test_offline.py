"""Streaming an item whose media folder went offline since the last scan: 503 UNAVAILABLE with the
reason, not 404; a file gone from a folder that is there is still 404."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from tests.streaming.conftest import Library


def take_offline(media_dir: Path, how: str) -> None:
    away = media_dir.with_name("media.away")
    media_dir.rename(away)
    if how == "empty":
        media_dir.mkdir()  # the mount point of a share that is not mounted


@pytest.mark.parametrize(("how", "why"), [
    ("empty", "empty while the library has items from it (a share not mounted yet?)"),
    ("missing", "missing (not mounted, moved or renamed)"),
])
async def test_a_folder_gone_offline_since_the_scan_answers_503_with_why(
        own_library: Library, media_dir: Path, how: str, why: str) -> None:
    take_offline(media_dir, how)
    for method in ("GET", "HEAD"):
        for r in (await own_library.stream("Jóga", method=method),
                  await own_library.stream_bearer("Jóga", method=method),
                  await own_library.stream("Jóga", method=method, download="1")):
            assert r.status_code == 503, (method, r.status_code)
    error = (await own_library.stream("Jóga", headers={"Range": "bytes=0-99"})).json()["error"]
    assert error["code"] == "UNAVAILABLE"
    assert error["message"] == f"Its media folder is offline: {why}."
    assert error["details"] == {"kind": "media", "id": own_library.item("Jóga")["id"], "reason": error["message"]}
    art = await own_library.client.get(own_library.item("Jóga")["artwork_url"])
    assert art.status_code == 200  # the cover is cached apart from the folder


async def test_a_file_gone_from_a_folder_that_is_there_is_404(own_library: Library) -> None:
    own_library.files["Jóga"].unlink()
    r = await own_library.stream("Jóga")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


async def test_the_folder_back_streams_again(own_library: Library, media_dir: Path) -> None:
    take_offline(media_dir, "missing")
    assert (await own_library.stream("Circle")).status_code == 503
    shutil.move(media_dir.with_name("media.away"), media_dir)
    # Access checks are cached for a moment (streaming/access.py TTL_S): within it, the old answer.
    deadline = time.monotonic() + 30
    while (r := await own_library.stream("Circle", headers={"Range": "bytes=0-9"})).status_code != 206:
        assert r.status_code in (404, 503) and time.monotonic() < deadline, r.status_code
        await asyncio.sleep(0.2)
    assert len(r.content) == 10


async def test_the_stream_routes_document_503(library: Library) -> None:
    spec = (await library.client.get("/api/openapi.json")).json()
    for method in ("get", "head"):
        unavailable = spec["paths"]["/api/v1/media/{media_id}/stream"][method]["responses"]["503"]
        assert "folder is offline" in unavailable["description"]
