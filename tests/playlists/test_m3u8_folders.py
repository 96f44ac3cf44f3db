"""M3U8 export and import with two media folders: paths are written relative to their own folder and
import back to the same items, even where both folders hold the same relative path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from medianest.config import Settings
from medianest.library.models import Media
from tests.conftest import bearer
from tests.playback.conftest import Library
from tests.playlists.test_m3u8 import _export, _import
from tests.playlists.test_playlists import PL, create, detail


@pytest.fixture
def second_dir(tmp_path: Path, media_files: dict[str, Path]) -> Path:
    more = tmp_path / "more music"
    (more / "Unsorted").mkdir(parents=True)
    shutil.copy(media_files["untagged"], more / "#1 hit.mp3")  # reads as a comment unless written "./#1 hit.mp3"
    # The same relative path as the first folder's untagged song, with other tags (a copy of Jóga).
    shutil.copy(media_files["Jóga"], more / "Unsorted" / "my_untagged_song.mp3")
    return more


@pytest.fixture
def settings(settings: Settings, second_dir: Path) -> Settings:
    return settings.model_copy(update={"media_dirs": [*settings.media_dirs, second_dir]})


async def _ids_by_path(lib: Library) -> dict[str, str]:
    async with lib.api.app.state.parts.sessions() as session:
        return {p: str(i) for i, p in await session.execute(select(Media.id, Media.path))}


async def test_two_folders_round_trip(lib: Library, media_dir: Path, second_dir: Path) -> None:
    ids = await _ids_by_path(lib)
    first, second = os.path.realpath(media_dir), os.path.realpath(second_dir)
    wanted = [ids[os.path.join(second, "#1 hit.mp3")], ids[os.path.join(second, "Unsorted/my_untagged_song.mp3")],
              ids[os.path.join(first, "Unsorted/my_untagged_song.mp3")], lib.ids["Circle"]]
    pl = await create(lib, lib.a)
    for media_id in wanted:
        r = await lib.api.client.post(f"{PL}/{pl['id']}/items", json={"media_id": media_id}, headers=bearer(lib.a))
        assert r.status_code == 201, r.text
    text = await _export(lib, lib.a, pl["id"])
    locations = [line for line in text.splitlines() if not line.startswith("#")]
    assert locations[:3] == ["./#1 hit.mp3", "Unsorted/my_untagged_song.mp3", "Unsorted/my_untagged_song.mp3"]
    assert first not in text and second not in text
    r = await _import(lib, lib.a, text)
    assert r.status_code == 201, r.text
    assert (r.json()["data"]["matched"], r.json()["data"]["unmatched"]) == (4, [])
    again = await detail(lib, lib.a, r.json()["data"]["playlist"]["id"])
    assert [i["media_id"] for i in again["items"]] == wanted
