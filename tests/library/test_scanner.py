"""The scanner on real files: tags, stream facts, artwork, failures with reasons, rescans, symlinks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import mutagen
import pytest
from mutagen.easyid3 import EasyID3
from sqlalchemy import select, text

from medianest.library import scanner
from medianest.library.models import Media
from medianest.library.probe import ProbeResult
from tests.conftest import Api, bearer
from tests.media import LONG_NAME


async def test_first_scan_reads_tags_and_stream_facts(api: Api, media_files: dict[str, Path]) -> None:
    token = await api.setup_admin()
    scan = await api.scan()
    assert (scan["added"], scan["failed"], scan["removed"]) == (10, 3, 0)
    joga = await api.media_by_title(token, "Jóga")
    assert (joga["artist"], joga["album"], joga["track"], joga["year"], joga["genre"]) == (
        "Björk Tribute", "Homogenic", 1, 2020, "Électronique")
    assert joga["kind"] == "audio" and joga["mime"] == "audio/mpeg" and joga["audio_codec"] == "mp3"
    assert 2.5 < joga["duration_s"] < 3.5
    assert joga["artwork_url"] is not None
    expected = {"Bachelorette": ("audio/mp4", "aac"), "Circle": ("audio/flac", "flac"),
                "Square": ("audio/ogg", "opus")}
    for title, (mime, codec) in expected.items():
        item = await api.media_by_title(token, title)
        assert (item["mime"], item["audio_codec"]) == (mime, codec), title
    for title, mime, vcodec in (("Bars Clip", "video/mp4", "h264"), ("Motion Study", "video/webm", "vp8"),
                                ("Matroska Sample", "video/x-matroska", "h264")):
        item = await api.media_by_title(token, title)
        assert (item["kind"], item["mime"], item["video_codec"]) == ("video", mime, vcodec), title
        assert (item["width"], item["height"]) == (320, 240)
        assert item["artwork_url"] is not None, "video thumbnail"
        art = await api.client.get(item["artwork_url"])
        assert art.status_code == 200 and art.content[:2] == b"\xff\xd8"


async def test_untagged_unicode_and_long_names_get_titles_from_the_file_name(
        api: Api, media_files: dict[str, Path]) -> None:
    token = await api.setup_admin()
    await api.scan()
    titles = {i["title"] for i in await api.all_media(token)}
    assert {"my untagged song", "Ünïcödé 日本語 🎵", LONG_NAME} <= titles


async def test_unreadable_files_are_recorded_with_reasons(api: Api, media_files: dict[str, Path]) -> None:
    token = await api.setup_admin()
    await api.scan()
    folders = (await api.client.get("/api/v1/library/folders", headers=bearer(token))).json()["data"]
    reasons = {Path(u["path"]).name: u["reason"] for u in folders[0]["unreadable"]}
    assert reasons.keys() == {"corrupt.mp3", "corrupt.mkv", "empty.flac"}
    assert "empty" in reasons["empty.flac"]
    assert folders[0]["media_count"] == 10


async def test_rescan_sees_changes_additions_and_removals(api: Api, media_files: dict[str, Path]) -> None:
    token = await api.setup_admin()
    await api.scan()
    unchanged = await api.scan()
    assert (unchanged["added"], unchanged["updated"], unchanged["removed"]) == (0, 0, 0)

    tags = EasyID3(media_files["Jóga"])
    tags["title"] = "Jóga (Remastered)"
    tags.save()
    os.utime(media_files["Jóga"], (time.time() + 5, time.time() + 5))
    media_files["Circle"].unlink()
    copy = media_files["untagged"].with_name("second copy.mp3")
    copy.write_bytes(media_files["untagged"].read_bytes())

    scan = await api.scan()
    assert (scan["added"], scan["updated"], scan["removed"]) == (1, 1, 1)
    titles = {i["title"] for i in await api.all_media(token)}
    assert "Jóga (Remastered)" in titles and "Jóga" not in titles
    assert "Circle" not in titles and "second copy" in titles


async def test_a_file_fixed_after_failing_is_picked_up(api: Api, media_files: dict[str, Path]) -> None:
    token = await api.setup_admin()
    await api.scan()
    media_files["zero"].write_bytes(media_files["Circle"].read_bytes())
    scan = await api.scan()
    assert scan["added"] == 1 and scan["failed"] == 2
    assert len(await api.all_media(token, q="circle")) == 2  # the original and the repaired copy


async def test_symlinks_inside_are_followed_outside_and_broken_ones_are_not(
        api: Api, media_files: dict[str, Path], media_dir: Path, tmp_path: Path) -> None:
    token = await api.setup_admin()
    outside = tmp_path / "secret.mp3"
    outside.write_bytes(media_files["untagged"].read_bytes())
    links = media_dir / "Links"
    links.mkdir()
    (links / "inside.mp3").symlink_to(media_files["Jóga"])
    (links / "outside.mp3").symlink_to(outside)
    (links / "broken.mp3").symlink_to(tmp_path / "missing.mp3")
    (links / "loop.mp3").symlink_to(links / "loop.mp3")
    (links / "dir-loop").symlink_to(links)
    scan = await api.scan()
    assert scan["status"] == "completed"
    folders = (await api.client.get("/api/v1/library/folders", headers=bearer(token))).json()["data"]
    reasons = {Path(u["path"]).name: u["reason"] for u in folders[0]["unreadable"]}
    assert reasons["outside.mp3"] == "symlink points outside the media folders"
    assert reasons["broken.mp3"] == "broken symlink"
    assert reasons["loop.mp3"] == "symlink loop"
    assert len(await api.all_media(token, q="joga")) == 2  # the file and the link inside the library
    async with api.app.state.parts.sessions() as session:
        paths = set(await session.scalars(select(Media.path)))
    assert str(links / "inside.mp3") in paths
    assert not {str(links / n) for n in ("outside.mp3", "broken.mp3", "loop.mp3")} & paths


async def test_removed_media_folder_drops_its_items(api: Api, media_files: dict[str, Path]) -> None:
    token = await api.setup_admin()
    await api.scan()
    api.app.state.parts.scans.roots = []  # the admin removed the folder from the configuration
    scan = await api.scan()
    assert scan["removed"] == 10
    assert await api.all_media(token) == []


def test_mutagen_reads_fixture_tags(media_files: dict[str, Path]) -> None:
    """Guards the fixtures themselves: a silently untagged fixture would make the tests above vacuous."""
    audio = mutagen.File(media_files["Bachelorette"], easy=True)
    assert audio is not None and audio["title"] == ["Bachelorette"]


async def test_a_reader_crashing_on_one_file_fails_that_file_not_the_scan(
        api: Api, media_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a tag reader (mutagen, PyAV) on one strange file: that file is listed as unreadable with
    why, the rest of the library is scanned."""
    real_probe = scanner.probe

    def probe(path: Path, size: int | None = None) -> ProbeResult:
        if path == media_files["Jóga"]:
            raise RecursionError("maximum recursion depth exceeded")
        return real_probe(path, size)

    monkeypatch.setattr(scanner, "probe", probe)
    token = await api.setup_admin()
    scan = await api.scan()
    assert (scan["status"], scan["added"], scan["failed"]) == ("completed", 9, 4)
    folders = (await api.client.get("/api/v1/library/folders", headers=bearer(token))).json()["data"]
    reasons = {u["path"]: u["reason"] for f in folders for u in f["unreadable"]}
    assert reasons[str(media_files["Jóga"])] == "cannot read: RecursionError"


async def test_a_scan_that_wrote_items_leaves_the_planner_statistics(api: Api, media_files: dict[str, Path]) -> None:
    """Without statistics SQLite reads "audio items after id N, in id order" (a Subsonic app's library sync)
    through the (kind, title) index and sorts them all; with them, it walks the primary key."""
    await api.setup_admin()
    async with api.app.state.parts.sessions() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        if sqlite:
            assert not await session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        else:  # never analyzed: -1 (PostgreSQL 14 and newer)
            assert await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'media'")) == -1
    await api.scan()
    async with api.app.state.parts.sessions() as session:
        if sqlite:
            assert await session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'media'"))
            plan = " ".join(row[3] for row in await session.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM media WHERE deleted_at IS NULL AND kind = 'audio' AND id > 0 "
                "ORDER BY id LIMIT 500")))
            assert "PRIMARY KEY" in plan and "TEMP B-TREE" not in plan, plan
        else:  # the 10 readable files
            assert await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'media'")) == 10
