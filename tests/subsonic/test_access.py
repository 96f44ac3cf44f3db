"""The access matrix extended to /rest (tests/security/test_access_matrix.py is the REST API's): what one user
does through a Subsonic app is theirs alone, another user's private playlist does not exist for them, a public
one is readable but not theirs to change, the admin endpoints refuse plain users, and nothing under /rest
hands out a file outside the media folders.

Two accounts of this module's own play the parts, an admin (`amy`) and a plain user (`ben`), so the state
they leave is nobody else's on the shared `world` server. As in the REST matrix, a check is "the other's
view, read again, equals what it was", so it holds whatever state earlier tests left.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.subsonic import spec
from tests.subsonic.accounts import Account, new_account, no_failures_logged, send
from tests.subsonic.conftest import World

NOT_FOUND, NOT_AUTHORIZED = 70, 50
MARKER = b"MEDIANEST-SUBSONIC-OUTSIDE-5d1e"
PASSWD = b"root:x:0:0"


@pytest.fixture(autouse=True)
def quiet_log(world: World) -> Iterator[None]:
    with no_failures_logged(world.server):
        yield


@dataclass
class Cast:
    amy: Account  # an admin
    ben: Account  # a plain user
    song: str
    song2: str
    album: str
    artist: str
    media_dir: Path
    data_dir: Path

    def pair(self, actor: str) -> tuple[Account, Account]:
        return (self.amy, self.ben) if actor == "amy" else (self.ben, self.amy)


@pytest.fixture(scope="module")
def cast(world: World) -> Cast:
    amy = new_account(world.server, "amy", role="admin")
    ben = new_account(world.server, "ben")
    albums = {a["name"]: a for a in amy.ok("getAlbumList2", {"type": "alphabeticalByName", "size": 500})
              ["albumList2"]["album"]}
    album = amy.ok("getAlbum", {"id": albums["Loops"]["id"]})["album"]
    return Cast(amy, ben, album["song"][0]["id"], album["song"][1]["id"], album["id"], album["artistId"],
                world.server.media_dir, world.server.data_dir)


# --- per-user state --------------------------------------------------------------------------------------

def view(user: Account, cast: Cast) -> dict[str, Any]:
    """Everything of a user's own that the Subsonic API and the REST API show."""
    out: dict[str, Any] = {endpoint: user.ok(endpoint) for endpoint in (
        "getStarred", "getStarred2", "getBookmarks", "getPlayQueue", "getPlayQueueByIndex")}
    out |= {f"getAlbumList2 {kind}": user.ok("getAlbumList2", {"type": kind, "size": 500})
            for kind in ("starred", "highest", "frequent", "recent")}
    out |= {
        "getSong": user.ok("getSong", {"id": cast.song}), "getAlbum": user.ok("getAlbum", {"id": cast.album}),
        "getArtist": user.ok("getArtist", {"id": cast.artist}),
        "getMusicDirectory": user.ok("getMusicDirectory", {"id": cast.album}),
        "search3": user.ok("search3", {"query": "", "songCount": 500}),
    }
    for media_id in (cast.song, cast.song2):
        item = user.api("GET", f"/api/v1/media/{media_id}").json()["data"]
        out[f"REST {media_id}"] = {k: item[k] for k in ("liked", "play_count", "last_played_at", "position_s")}
    return out


def _mark(actor: Account, cast: Cast) -> None:
    """Everything per-user a Subsonic app does to a song, its album and its artist."""
    actor.ok("star", {"id": cast.song, "albumId": cast.album, "artistId": cast.artist})
    for target, rating in ((cast.song, 5), (cast.album, 4), (cast.artist, 3)):
        actor.ok("setRating", {"id": target, "rating": rating})
    actor.ok("scrobble", {"id": cast.song})  # before the bookmark: a finished play clears the resume point
    actor.ok("scrobble", [("id", cast.song2), ("id", cast.song2)])
    actor.ok("createBookmark", {"id": cast.song, "position": 4321, "comment": "mine"})
    actor.ok("savePlayQueue", [("id", cast.song), ("id", cast.song2), ("current", cast.song2), ("position", 77)])


@pytest.mark.parametrize("actor", ["amy", "ben"])
def test_stars_ratings_bookmarks_queues_and_plays_are_the_users_own(cast: Cast, actor: str) -> None:
    me, other = cast.pair(actor)
    before_mine, before_other = view(me, cast), view(other, cast)
    _mark(me, cast)
    assert view(other, cast) == before_other
    mine = view(me, cast)
    song = mine["getSong"]["song"]
    assert song["userRating"] == 5 and "starred" in song and song["bookmarkPosition"] == 4321
    assert song["playCount"] == before_mine["getSong"]["song"]["playCount"] + 1
    assert mine["REST " + cast.song2]["play_count"] == before_mine["REST " + cast.song2]["play_count"] + 2
    assert mine["getAlbum"]["album"]["userRating"] == 4 and "starred" in mine["getAlbum"]["album"]
    assert mine["getArtist"]["artist"]["userRating"] == 3
    assert {s["id"] for s in mine["getStarred2"]["starred2"]["song"]} >= {cast.song}
    assert [e["id"] for e in mine["getPlayQueue"]["playQueue"]["entry"]] == [cast.song, cast.song2]
    assert cast.song in {b["entry"]["id"] for b in mine["getBookmarks"]["bookmarks"]["bookmark"]}
    assert mine["REST " + cast.song]["liked"] is True


@pytest.mark.parametrize("actor", ["amy", "ben"])
def test_undoing_ones_own_marks_leaves_the_others(cast: Cast, actor: str) -> None:
    """The other marks first; then unstar, rating 0, deleting a bookmark and an empty queue, by this user on the
    same song, album and artist, change nothing of the other's."""
    me, other = cast.pair(actor)
    _mark(other, cast)
    before_other = view(other, cast)
    me.ok("unstar", {"id": cast.song, "albumId": cast.album, "artistId": cast.artist})
    for target in (cast.song, cast.album, cast.artist):
        me.ok("setRating", {"id": target, "rating": 0})
    me.raw("deleteBookmark", {"id": cast.song})  # 70 unless this user had one: either way, not the other's
    me.ok("savePlayQueue")  # no ids: this user's queue is emptied
    assert view(other, cast) == before_other
    assert me.ok("getPlayQueue")["playQueue"].get("entry", []) == []
    assert cast.song not in {s["id"] for s in me.ok("getStarred2")["starred2"].get("song", [])}


# --- playlists -------------------------------------------------------------------------------------------

@dataclass
class Lists:
    owner: Account
    other: Account
    private: str
    public: str


@pytest.fixture(params=["amy", "ben"], ids=["admin's", "user's"])
def lists(request: pytest.FixtureRequest, cast: Cast) -> Lists:
    owner, other = cast.pair(request.param)
    made = {}
    for name in ("private", "public"):
        made[name] = owner.ok("createPlaylist", [("name", f"{owner.username} {name}"), ("songId", cast.song),
                                                 ("songId", cast.song2)])["playlist"]["id"]
    owner.ok("updatePlaylist", {"playlistId": made["public"], "public": "true"})
    return Lists(owner, other, made["private"], made["public"])


def _changes(playlist_id: str, cast: Cast) -> dict[str, list[tuple[str, Any]]]:
    return {
        "updatePlaylist name": [("playlistId", playlist_id), ("name", "taken")],
        "updatePlaylist public": [("playlistId", playlist_id), ("public", "false")],
        "updatePlaylist songIdToAdd": [("playlistId", playlist_id), ("songIdToAdd", cast.song)],
        "updatePlaylist songIndexToRemove": [("playlistId", playlist_id), ("songIndexToRemove", 0)],
        "createPlaylist playlistId": [("playlistId", playlist_id), ("songId", cast.song)],
        "deletePlaylist": [("id", playlist_id)],
    }


def _owner_view(lists: Lists) -> dict[str, Any]:
    return {pl: lists.owner.ok("getPlaylist", {"id": pl}) for pl in (lists.private, lists.public)}


def test_another_users_private_playlist_does_not_exist(cast: Cast, lists: Lists) -> None:
    before = _owner_view(lists)
    other = lists.other
    assert other.failed("getPlaylist", {"id": lists.private}, code=NOT_FOUND)
    for what, params in _changes(lists.private, cast).items():
        endpoint = what.split()[0]
        error = other.failed(endpoint, params, code=NOT_FOUND)
        assert error["message"], what
    listed = {p["id"] for p in other.ok("getPlaylists")["playlists"].get("playlist", [])}
    assert lists.private not in listed and lists.public in listed
    assert _owner_view(lists) == before
    # the REST API says the same
    assert other.api("GET", f"/api/v1/playlists/{lists.private}").status_code == 404


def test_another_users_public_playlist_is_read_only(cast: Cast, lists: Lists) -> None:
    before = _owner_view(lists)
    other = lists.other
    seen = other.ok("getPlaylist", {"id": lists.public})["playlist"]
    assert seen["readonly"] is True and seen["owner"] == lists.owner.username
    assert [e["id"] for e in seen["entry"]] == [cast.song, cast.song2]
    for what, params in _changes(lists.public, cast).items():
        endpoint = what.split()[0]
        assert other.failed(endpoint, params, code=NOT_AUTHORIZED)["message"], what
    assert _owner_view(lists) == before
    mine = lists.owner.ok("getPlaylist", {"id": lists.public})["playlist"]
    assert mine["readonly"] is False


def test_an_admin_lists_only_the_public_playlists_of_another_user(cast: Cast, lists: Lists) -> None:
    listed = {p["id"] for p in cast.amy.ok("getPlaylists", {"username": lists.owner.username})
              ["playlists"].get("playlist", [])}
    if lists.owner is cast.amy:
        assert {lists.private, lists.public} <= listed
    else:
        assert lists.public in listed and lists.private not in listed
        assert cast.ben.failed("getPlaylists", {"username": cast.amy.username}, code=NOT_AUTHORIZED)


# --- admin endpoints -------------------------------------------------------------------------------------

ADMIN_ONLY = {
    "getUsers": {}, "startScan": {}, "getUser of another": {"username": "amy"},
    "getUser of nobody": {"username": "ghost-user"},  # 50, not 70: no telling who has an account
    "getPlaylists of another": {"username": "amy"},
}


@pytest.mark.parametrize("what", sorted(ADMIN_ONLY))
def test_admin_endpoints_refuse_a_plain_user(cast: Cast, world: World, what: str) -> None:
    endpoint = what.split()[0]
    params = {k: (cast.amy.username if v == "amy" else v) for k, v in ADMIN_ONLY[what].items()}
    key = cast.ben.api("POST", "/api/v1/auth/api-keys", json={"name": "app"}).json()["data"]["key"]
    for fmt in ("json", "xml"):
        for creds in (cast.ben.creds(), {"apiKey": key}):
            r = send(world.base, endpoint, [*creds.items(), *params.items()], fmt=fmt)
            body = r.json() if fmt == "json" else spec.xml_fields(r.content, endpoint)
            spec.validate_error(body, NOT_AUTHORIZED)


def test_the_admin_endpoints_answer_an_admin_and_ones_own_account_answers_anyone(cast: Cast) -> None:
    names = {u["username"] for u in cast.amy.ok("getUsers")["users"]["user"]}
    assert {cast.amy.username, cast.ben.username} <= names
    assert cast.amy.ok("getUser", {"username": cast.ben.username})["user"]["adminRole"] is False
    me = cast.ben.ok("getUser", {"username": cast.ben.username})["user"]
    assert me["username"] == cast.ben.username and me["adminRole"] is False and me["settingsRole"] is False


# --- files -----------------------------------------------------------------------------------------------

def _every_item(user: Account) -> list[dict[str, Any]]:
    songs = user.ok("search3", {"query": "", "songCount": 500, "artistCount": 0, "albumCount": 0})
    return [*songs["searchResult3"]["song"], *user.ok("getVideos")["videos"]["video"]]


def test_paths_are_inside_the_media_folder_and_downloads_are_those_files(cast: Cast) -> None:
    items = _every_item(cast.ben)
    assert len(items) > 10
    for item in items:
        path = item["path"]
        assert not path.startswith(("/", "\\")) and ".." not in Path(path).parts, path
        on_disk = cast.media_dir / path
        assert on_disk.is_file(), path
        r = cast.ben.raw("download", {"id": item["id"]}, fmt="xml")
        assert r.status_code == 200 and r.content == on_disk.read_bytes(), path
        raw = cast.ben.raw("stream", {"id": item["id"], "format": "raw"}, fmt="xml")
        assert raw.content == r.content, path


def _hostile_ids() -> list[str]:
    names = ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
             "..\\..\\etc\\passwd", "file:///etc/passwd", "....//....//etc/passwd", "/proc/self/environ"]
    return [*names, *(prefix + name for prefix in ("mf-", "al-", "ar-", "pl-") for name in names[:2])]


@pytest.mark.parametrize("endpoint", ["stream", "download", "getCoverArt", "getLyricsBySongId", "getSong",
                                      "getVideoInfo", "getMusicDirectory", "getAlbum", "getArtist", "getPlaylist"])
def test_ids_spelling_paths_name_nothing(cast: Cast, endpoint: str) -> None:
    for raw_id in _hostile_ids():
        for extra in ({}, {"format": "mp3"}, {"size": "64"}):
            r = cast.ben.raw(endpoint, {"id": raw_id, **extra})
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), raw_id
            spec.validate_error(r.json(), NOT_FOUND)
            assert PASSWD not in r.content


def test_names_spelling_paths_read_nothing(cast: Cast) -> None:
    for name in _hostile_ids():
        avatar = cast.ben.raw("getAvatar", {"username": name}, fmt="xml")
        assert avatar.headers["content-type"] == "image/png" and PASSWD not in avatar.content
        lyrics = cast.ben.ok("getLyrics", {"artist": name, "title": name})
        assert lyrics["lyrics"].get("value", "") == ""


def test_a_path_in_the_url_is_an_unknown_endpoint(cast: Cast, world: World) -> None:
    """Sent as it is (no client-side normalisation), as a proxy that does not normalise would pass it on."""
    query = urlencode({**cast.ben.creds(), "f": "json"})
    where = urlsplit(world.base)
    for path in ("/rest/../../../../etc/passwd", "/rest/..%2f..%2f..%2fetc%2fpasswd", "/rest/%2e%2e/%2e%2e/etc/passwd",
                 "/rest/stream/../../../../etc/passwd", "/rest//etc/passwd"):
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
        try:
            conn.request("GET", f"{path}?{query}")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert PASSWD not in body, path
        assert response.status in (200, 400, 404), (path, response.status)
        if response.status == 200:
            spec.validate_error(json.loads(body), 0)


@pytest.fixture
def outside_lyrics(cast: Cast, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An LRC sidecar beside a song that is a symlink to a file outside the media folder (removed after)."""
    secret = tmp_path / "secret.lrc"
    secret.write_bytes(b"[00:01.00]" + MARKER + b"\n[00:02.00]more\n")
    song = next(s for s in _every_item(cast.ben) if s["path"].startswith("Unsorted/my_untagged_song"))
    link = (cast.media_dir / song["path"]).with_suffix(".lrc")
    os.symlink(secret, link)
    try:
        yield song["id"], link
    finally:
        link.unlink()


def test_a_sidecar_linking_outside_the_media_folder_is_not_read(cast: Cast, outside_lyrics: tuple[str, Path]) -> None:
    song_id, _ = outside_lyrics
    for fmt in ("json", "xml"):
        r = cast.ben.raw("getLyricsBySongId", {"id": song_id}, fmt=fmt)
        assert r.status_code == 200 and MARKER not in r.content
    title = cast.ben.ok("getSong", {"id": song_id})["song"]["title"]
    assert MARKER not in cast.ben.raw("getLyrics", {"title": title}).content


def test_no_answer_names_the_servers_own_folders(cast: Cast) -> None:
    """Paths are shown below their media folder; neither it nor the data folder appears in any answer."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("getMusicFolders", {}), ("getIndexes", {}), ("getArtists", {}), ("search3", {"query": "", "songCount": 500}),
        ("search2", {"query": ""}), ("getVideos", {}), ("getAlbum", {"id": cast.album}),
        ("getSong", {"id": cast.song}), ("getMusicDirectory", {"id": cast.album}), ("getBookmarks", {}),
        ("getPlayQueue", {}), ("getLyricsBySongId", {"id": cast.song}), ("getStarred", {}), ("getUser",
        {"username": cast.amy.username}), ("getScanStatus", {}), ("getNowPlaying", {}),
        ("stream", {"id": "999999"}), ("getCoverArt", {"id": "999999"}), ("nope", {}),
    ]
    root = os.path.commonpath([cast.media_dir, cast.data_dir]).encode()  # the server's folders are under it
    for endpoint, params in calls:
        for fmt in ("json", "xml"):
            assert root not in cast.amy.raw(endpoint, params, fmt=fmt).content, (endpoint, fmt)
