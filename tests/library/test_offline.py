"""Offline media folders: a share not mounted (its mount point empty), a folder missing, or one that
cannot be read keeps its items - ids, playlists, likes, plays and resume points - and they are the same
items when it is back. Files really deleted from a present folder are still removed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from medianest.config import Settings
from medianest.downloads.placement import place
from medianest.downloads.ytdlp import Failure
from medianest.filenames import DEFAULT_TEMPLATE
from medianest.library import scanner
from medianest.library.folders import UNCONFIGURED
from medianest.library.probe import ProbeResult, Unreadable
from medianest.library.walk import WalkResult
from tests.conftest import CHEAP_PASSWORDS, Api, bearer

VIDEOS = ("Bars Clip", "Motion Study", "Matroska Sample")


@pytest.fixture
def folders(tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> tuple[Path, Path]:
    """Two media folders: `one` holds the 4 tagged songs, `two` the 3 videos (7 items, as in the issue)."""
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(media_source[0] / "Music", one / "Music")
    shutil.copytree(media_source[0] / "Videos", two / "Videos")
    return one, two


@pytest.fixture
def settings(tmp_path: Path, folders: tuple[Path, Path], database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", media_dirs=list(folders), database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING", plex_tv_url="http://127.0.0.1:9",
                    **CHEAP_PASSWORDS)


# How a folder goes offline, and the reason a scan gives (a root replaced by a file or a dangling symlink
# is unreadable even for root, which chmod is not).
WAYS = {
    "empty": "empty while the library has items from it (a share not mounted yet?)",
    "missing": "missing (not mounted, moved or renamed)",
    "a file": "not a folder",
    "a dangling symlink": "a broken symlink",
}


def take_offline(folder: Path, how: str) -> Path:
    """Put `folder` out of reach the way `how` says; its files wait in the returned folder."""
    away = folder.with_name(folder.name + ".away")
    folder.rename(away)
    if how == "empty":
        folder.mkdir()  # the mount point of a share not mounted yet
    elif how == "a file":
        folder.write_bytes(b"not a folder")
    elif how == "a dangling symlink":
        folder.symlink_to(folder.with_name("nowhere"))
    return away


def bring_back(folder: Path, away: Path) -> None:
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        folder.rmdir()
    away.rename(folder)


async def playlist_of(api: Api, token: str, items: list[dict[str, Any]]) -> str:
    r = await api.client.post("/api/v1/playlists", json={"name": "all"}, headers=bearer(token))
    playlist: str = r.json()["data"]["id"]
    for item in items:
        r = await api.client.post(f"/api/v1/playlists/{playlist}/items", json={"media_id": item["id"]},
                                  headers=bearer(token))
        assert r.status_code == 201, r.text
    return playlist


async def get(api: Api, token: str, path: str) -> Any:
    r = await api.client.get(path, headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def scan_by_api(api: Api, token: str) -> dict[str, Any]:
    r = await api.client.post("/api/v1/library/scans", headers=bearer(token))
    assert r.status_code == 202, r.text
    await api.app.state.parts.scans.wait()
    scan: dict[str, Any] = await get(api, token, f"/api/v1/library/scans/{r.json()['data']['id']}")
    return scan


async def test_an_emptied_folder_keeps_its_items_and_the_playlist(api: Api, folders: tuple[Path, Path]) -> None:
    """The issue's numbers: two folders, one emptied, a scan took 7 items to 4 and the playlist 7 to 4."""
    token = await api.setup_admin()
    await api.scan()
    items = await api.all_media(token)
    assert len(items) == 7
    playlist = await playlist_of(api, token, items)
    take_offline(folders[1], "empty")
    scan = await api.scan()
    assert scan["removed"] == 0
    assert len(await api.all_media(token)) == 7
    assert (await get(api, token, f"/api/v1/playlists/{playlist}"))["item_count"] == 7


@pytest.mark.parametrize("how", list(WAYS))
async def test_an_offline_folder_keeps_its_items_and_everyones_state(
        api: Api, folders: tuple[Path, Path], how: str) -> None:
    admin = await api.setup_admin()
    bob = await api.create_user(admin, "bob")
    await api.scan()
    before = {i["title"]: i for i in await api.all_media(bob)}
    playlist = await playlist_of(api, bob, list(before.values()))
    clip = before["Bars Clip"]
    assert (await api.client.put(f"/api/v1/media/{clip['id']}/like", headers=bearer(bob))).status_code == 204
    play = await api.client.post(f"/api/v1/media/{clip['id']}/plays", json={"completed": True, "listened_s": 4},
                                 headers=bearer(bob))
    assert play.status_code == 201, play.text
    resume = await api.client.put(f"/api/v1/media/{clip['id']}/progress", json={"position_s": 1.5},
                                  headers=bearer(bob))
    assert resume.status_code == 200, resume.text

    away = take_offline(folders[1], how)
    scan = await scan_by_api(api, admin)

    assert scan["status"] == "completed" and scan["removed"] == 0
    assert scan["offline_folders"] == [{"path": str(folders[1]), "reason": WAYS[how]}]
    event = [p for e, p, _ in api.app.state.parts.notifier.recent if e == "library:scan-progress"][-1]
    assert event["offline_folders"] == [{"name": "two", "reason": WAYS[how]}]
    after = {i["title"]: i for i in await api.all_media(bob)}
    assert {t: i["id"] for t, i in after.items()} == {t: i["id"] for t, i in before.items()}
    reason = f"Its media folder is offline: {WAYS[how]}."
    for title, item in after.items():
        offline = title in VIDEOS
        assert (item["available"], item["unavailable_reason"]) == ((False, reason) if offline else (True, None))
    assert str(folders[1]) not in reason
    kept = after["Bars Clip"]
    assert (kept["liked"], kept["play_count"], kept["position_s"]) == (True, 1, 1.5)
    detail = await get(api, bob, f"/api/v1/playlists/{playlist}")
    assert detail["item_count"] == 7
    assert sorted(i["media"]["title"] for i in detail["items"] if not i["media"]["available"]) == sorted(VIDEOS)
    [entry] = await get(api, bob, "/api/v1/me/history")
    assert entry["media"]["id"] == clip["id"] and entry["media"]["available"] is False
    assert [i["id"] for i in await get(api, bob, "/api/v1/me/favorites")] == [clip["id"]]

    for method in ("GET", "HEAD"):
        refused = await api.client.request(method, kept["stream_url"])
        assert refused.status_code == 503, (method, refused.status_code)
    error = (await api.client.get(kept["stream_url"])).json()["error"]
    assert (error["code"], error["message"]) == ("UNAVAILABLE", reason)
    art = await api.client.get(kept["artwork_url"])  # the cached thumbnail does not need the folder
    assert art.status_code == 200

    listed = {f["path"]: f for f in await get(api, admin, "/api/v1/library/folders")}
    two = listed[str(folders[1])]
    assert (two["status"], two["reason"], two["media_count"], two["unavailable_count"]) == (
        "offline", WAYS[how], 3, 3)
    assert two["offline_since"] is not None
    assert (listed[str(folders[0])]["status"], listed[str(folders[0])]["unavailable_count"]) == ("online", 0)
    health = await api.client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    library = health.json()["checks"]["library"]
    assert library["status"] == "fail" and library["critical"] is False
    assert "two" in library["detail"] and str(folders[1].parent) not in library["detail"]

    # While it was away one file changed: it is updated in place, keeping its id.
    changed = away / "Videos" / "Clips" / "Motion.webm"
    os.utime(changed, (time.time() + 10, time.time() + 10))
    bring_back(folders[1], away)
    back = await scan_by_api(api, admin)

    assert (back["offline_folders"], back["removed"], back["added"], back["updated"]) == ([], 0, 0, 1)
    again = {i["title"]: i for i in await api.all_media(bob)}
    assert {t: i["id"] for t, i in again.items()} == {t: i["id"] for t, i in before.items()}
    assert all(i["available"] and i["unavailable_reason"] is None for i in again.values())
    assert (again["Bars Clip"]["liked"], again["Bars Clip"]["play_count"]) == (True, 1)
    streamed = await api.client.get(again["Bars Clip"]["stream_url"], headers={"Range": "bytes=0-99"})
    assert streamed.status_code == 206 and len(streamed.content) == 100
    listed = {f["path"]: f for f in await get(api, admin, "/api/v1/library/folders")}
    assert (listed[str(folders[1])]["status"], listed[str(folders[1])]["offline_since"]) == ("online", None)
    assert (await api.client.get("/health")).json()["checks"]["library"]["status"] == "ok"


async def test_a_file_deleted_from_a_present_folder_is_removed(api: Api, folders: tuple[Path, Path]) -> None:
    token = await api.setup_admin()
    await api.scan()
    playlist = await playlist_of(api, token, await api.all_media(token))
    (folders[1] / "Videos" / "Clips" / "Bars.mp4").unlink()
    scan = await api.scan()
    assert (scan["removed"], scan["offline_folders"]) == (1, [])
    assert "Bars Clip" not in {i["title"] for i in await api.all_media(token)}
    assert (await get(api, token, f"/api/v1/playlists/{playlist}"))["item_count"] == 6
    # A folder inside emptied, while the media folder still holds media: its files are really gone.
    (folders[1] / "Videos" / "Clips" / "Motion.webm").rename(folders[1] / "Motion.webm")
    shutil.rmtree(folders[1] / "Videos" / "Clips")
    (folders[1] / "Videos" / "Clips").mkdir()
    scan = await api.scan()
    assert (scan["removed"], scan["added"], scan["offline_folders"]) == (2, 1, [])
    assert len(await api.all_media(token)) == 5
    # A media folder with no media file left looks like a share not mounted, and is kept as one: taking
    # it out of MEDIANEST_MEDIA_DIRS (test_scanner.py) is how its items are dropped.
    (folders[1] / "Motion.webm").unlink()
    scan = await api.scan()
    assert (scan["removed"], [f["path"] for f in scan["offline_folders"]]) == (0, [str(folders[1])])


async def test_a_folder_never_indexed_is_not_offline_for_being_empty(api: Api, folders: tuple[Path, Path]) -> None:
    token = await api.setup_admin()
    shutil.rmtree(folders[1] / "Videos")  # a new, empty media folder
    scan = await api.scan()
    assert (scan["added"], scan["offline_folders"]) == (4, [])
    assert {f["status"] for f in await get(api, token, "/api/v1/library/folders")} == {"online"}


@pytest.mark.parametrize("link", ["dangling", "loop"])
async def test_a_folder_inside_that_cannot_be_read_keeps_its_items(
        api: Api, folders: tuple[Path, Path], link: str) -> None:
    """A folder inside a media folder replaced by a symlink that leads nowhere (a share mounted inside,
    gone): its items stay, unavailable; the rest of the media folder is scanned as usual."""
    token = await api.setup_admin()
    await api.scan()
    clips = folders[1] / "Videos" / "Clips"
    away = clips.rename(folders[1].parent / "clips.away")
    clips.symlink_to(folders[1].parent / "nowhere" if link == "dangling" else clips)
    (folders[0] / "Music" / "Steady Hands" / "Loops" / "01 Circle.flac").unlink()

    scan = await api.scan()

    why = "a broken symlink" if link == "dangling" else "a symlink loop"
    assert scan["removed"] == 1  # Circle: its folder is there
    assert scan["offline_folders"] == [{"path": str(clips), "reason": why}]
    items = {i["title"]: i for i in await api.all_media(token)}
    assert len(items) == 6
    assert {items[t]["unavailable_reason"] for t in VIDEOS} == {f"Its folder is offline: {why}."}
    refused = await api.client.get(items["Bars Clip"]["stream_url"])
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "UNAVAILABLE"
    [two] = [f for f in await get(api, token, "/api/v1/library/folders") if f["path"] == str(folders[1])]
    assert (two["status"], two["unavailable_count"]) == ("online", 3)
    assert two["offline_inside"] == [{"path": str(clips), "reason": why}]

    clips.unlink()
    away.rename(clips)
    back = await api.scan()
    assert (back["removed"], back["offline_folders"]) == (0, [])
    assert all(i["available"] for i in await api.all_media(token))
    [two] = [f for f in await get(api, token, "/api/v1/library/folders") if f["path"] == str(folders[1])]
    assert two["offline_inside"] == []


def test_a_download_into_a_missing_media_folder_fails_with_why_and_creates_nothing(tmp_path: Path) -> None:
    """Downloads land in the first media folder: if it is missing (a share not mounted), the download
    fails saying so, instead of creating the folder and filling the mount point."""
    src = tmp_path / "tmp" / "clip.mp4"
    src.parent.mkdir()
    src.write_bytes(b"bytes")
    root = tmp_path / "nas" / "media"
    with pytest.raises(Failure) as failed:
        place(src, root, DEFAULT_TEMPLATE, {"title": "Clip", "channel": "Someone"})
    assert failed.value.reason.startswith("the media folder downloads go to (media) is missing")
    assert failed.value.transient is False
    assert not (tmp_path / "nas").exists() and src.exists()


def test_a_download_into_the_empty_mount_point_of_a_share_not_mounted_fails(tmp_path: Path) -> None:
    """The first media folder is there but empty while the library has items from it: a file put in it
    would be hidden by the share once mounted, and would make the next scan take the folder as present
    (and drop the share's items)."""
    src = tmp_path / "tmp" / "clip.mp4"
    src.parent.mkdir()
    src.write_bytes(b"bytes")
    root = tmp_path / "nas"
    root.mkdir()
    with pytest.raises(Failure) as failed:
        place(src, root, DEFAULT_TEMPLATE, {"title": "Clip", "channel": "Someone"}, indexed=True)
    assert failed.value.reason.startswith("the media folder downloads go to (nas) is empty while the library")
    assert list(root.iterdir()) == [] and src.exists()
    placed = place(src, root, DEFAULT_TEMPLATE, {"title": "Clip", "channel": "Someone"})  # a new library
    assert placed.read_bytes() == b"bytes"


def configure(api: Api, roots: list[Path]) -> None:
    """The media folders as a restart with another MEDIANEST_MEDIA_DIRS would give them."""
    scans = api.app.state.parts.scans
    scans.roots = scans.scanner.roots = roots
    scans.folders.roots = {str(r) for r in roots}
    scans.folders.forget()
    api.app.state.parts.stream_access.roots = roots
    api.app.state.parts.stream_access.forget()


async def test_a_typo_in_place_of_a_folder_keeps_its_items_until_every_named_folder_is_online(
        api: Api, folders: tuple[Path, Path]) -> None:
    """MEDIANEST_MEDIA_DIRS names a folder that is not there in place of `two`: `two`'s items are kept,
    unavailable and saying why, not dropped as a folder taken out of the setting. Once every folder it
    names is online, a folder left out of it is dropped as before (test_scanner.py)."""
    token = await api.setup_admin()
    await api.scan()
    before = {i["title"]: i["id"] for i in await api.all_media(token)}
    playlist = await playlist_of(api, token, await api.all_media(token))
    typo = folders[1].with_name("tow")

    configure(api, [folders[0], typo])
    scan = await scan_by_api(api, token)

    assert scan["removed"] == 0
    assert {f["path"]: f["reason"] for f in scan["offline_folders"]} == {
        str(typo): WAYS["missing"], str(folders[1]): UNCONFIGURED}
    items = {i["title"]: i for i in await api.all_media(token)}
    assert {t: i["id"] for t, i in items.items()} == before
    assert {t: i["unavailable_reason"] for t, i in items.items() if not i["available"]} == dict.fromkeys(
        VIDEOS, f"Its folder is offline: {UNCONFIGURED}.")
    assert (await api.client.get(items["Bars Clip"]["stream_url"])).status_code == 503
    assert (await get(api, token, f"/api/v1/playlists/{playlist}"))["item_count"] == 7

    configure(api, list(folders))  # the typo fixed
    scan = await scan_by_api(api, token)
    assert (scan["removed"], scan["added"], scan["offline_folders"]) == (0, 0, [])
    items = {i["title"]: i for i in await api.all_media(token)}
    assert {t: i["id"] for t, i in items.items()} == before and all(i["available"] for i in items.values())

    configure(api, [folders[0]])  # `two` taken out on purpose, every named folder online
    scan = await scan_by_api(api, token)
    assert (scan["removed"], scan["offline_folders"]) == (3, [])


async def test_a_file_the_walk_cannot_stat_is_kept(api: Api, folders: tuple[Path, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error on a share while it is listed: the file is there, unreadable for now, not gone."""
    token = await api.setup_admin()
    await api.scan()
    circle = str(folders[0] / "Music" / "Steady Hands" / "Loops" / "01 Circle.flac")
    real_walk = scanner.walk

    def hiccup(roots: list[Path]) -> WalkResult:
        found = real_walk(roots)
        del found.files.sizes[circle], found.files.mtimes[circle]
        found.failures.append((circle, "cannot read: [Errno 5] Input/output error"))
        return found

    monkeypatch.setattr(scanner, "walk", hiccup)
    scan = await api.scan()
    assert (scan["removed"], scan["failed"]) == (0, 1)
    assert "Circle" in {i["title"] for i in await api.all_media(token)}


async def test_an_indexed_file_that_fails_to_read_keeps_its_item(api: Api, folders: tuple[Path, Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that read fine fails now (a reader's bug, a share mid-hiccup): the item, its playlists and
    likes stay, the failure is listed, and the next scan tries again."""
    token = await api.setup_admin()
    await api.scan()
    before = {i["title"]: i["id"] for i in await api.all_media(token)}
    playlist = await playlist_of(api, token, await api.all_media(token))
    circle = folders[0] / "Music" / "Steady Hands" / "Loops" / "01 Circle.flac"
    os.utime(circle, (time.time() + 10, time.time() + 10))
    real_probe = scanner.probe

    def failing(path: Path, size: int | None = None) -> ProbeResult:
        if path == circle:
            raise Unreadable("cannot decode: Invalid data found when processing input")
        return real_probe(path, size)

    monkeypatch.setattr(scanner, "probe", failing)
    scan = await api.scan()
    assert (scan["removed"], scan["failed"], scan["updated"]) == (0, 1, 0)
    assert {i["title"]: i["id"] for i in await api.all_media(token)} == before
    assert (await get(api, token, f"/api/v1/playlists/{playlist}"))["item_count"] == 7
    listed = [u for f in await get(api, token, "/api/v1/library/folders") for u in f["unreadable"]]
    assert [u["path"] for u in listed] == [str(circle)]

    monkeypatch.setattr(scanner, "probe", real_probe)
    again = await api.scan()
    assert (again["updated"], again["failed"]) == (1, 0)
    assert [u for f in await get(api, token, "/api/v1/library/folders") for u in f["unreadable"]] == []


async def test_a_media_folder_inside_another_is_judged_by_its_own_files(
        api: Api, folders: tuple[Path, Path]) -> None:
    """MEDIANEST_MEDIA_DIRS naming a folder and one inside it: the inner one, walked as part of the
    outer, is not "empty", and a file deleted from it is removed as from any folder."""
    token = await api.setup_admin()
    inner = folders[0] / "Music" / "Steady Hands"
    configure(api, [folders[0], inner])
    await api.scan()
    (inner / "Loops" / "01 Circle.flac").unlink()
    scan = await api.scan()
    assert (scan["removed"], scan["offline_folders"]) == (1, [])
    assert all(i["available"] for i in await api.all_media(token))


def test_files_of_unknown_folders_are_never_kept_by_a_folder_holding_a_configured_one() -> None:
    """Files indexed before folders were recorded, from two old folders: what is kept for them must
    not be `/` or a parent of a configured folder, or that folder's online items would be marked."""
    orphans = ["/srv/old/a.mp3", "/srv/old/b/c.mp3", "/data/x/y.mp3"]
    kept = scanner._unconfigured(orphans, [], ["/srv/music"])
    assert kept == dict.fromkeys(["/srv/old", "/srv/old/b", "/data/x"], UNCONFIGURED)
    assert scanner._unconfigured(["/srv/a.mp3"], ["/srv"], ["/srv/music"]) == {"/srv/a.mp3": UNCONFIGURED}
    assert scanner._unconfigured(["/old/a/b.mp3"], ["/old"], ["/srv/music"]) == {"/old": UNCONFIGURED}
