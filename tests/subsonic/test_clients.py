"""Every endpoint of the OpenSubsonic issue through a real client library against a live `medianest serve`:
py-opensonic (`libopensonic`, token auth by default) and py-sonic (`libsonic`), as apps call it, with what
the answers must mean checked against the library on disk and against the REST API (one hub, one truth).

The `world` server is shared by the whole test session, so tests here assert changes they make (before and
after), not absolute counts of things other tests may also touch.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import httpx
import libopensonic
import libsonic
import pytest
from libopensonic import errors as os_errors
from libsonic import errors as py_errors
from PIL import Image

from medianest.library.covers import BUCKETS
from tests.conftest import PASSWORD
from tests.subsonic.conftest import ADMIN_PW, BOB_PW, EMBEDDED_LYRICS, World

EXTENSIONS = {"formPost", "transcodeOffset", "songLyrics", "apiKeyAuthentication", "indexBasedQueue"}
TWO_DISCS, SUMMER_MIX, HOMOGENIC = "Two Discs", "Summer Mix", "Homogenic"


# --- clients and look-ups ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(world: World) -> Iterator[libopensonic.Connection]:
    """py-opensonic as admin: POST form bodies, `f=json`, token auth (t = md5(password + salt), s)."""
    with _closing(world.opensonic()) as conn:
        yield conn


@pytest.fixture(scope="module")
def bob(world: World) -> Iterator[libopensonic.Connection]:
    with _closing(world.opensonic("bob")) as conn:
        yield conn


@pytest.fixture(scope="module")
def keyed(world: World) -> Iterator[libopensonic.Connection]:
    """py-opensonic with the admin's API key (`apiKey`, no `u`): the apiKeyAuthentication extension."""
    with _closing(world.opensonic_key()) as conn:
        yield conn


@pytest.fixture(scope="module")
def legacy(world: World) -> Iterator[libopensonic.Connection]:
    """py-opensonic sending `p=enc:<hex>` (pre-1.13 apps)."""
    with _closing(world.opensonic(legacy_auth=True)) as conn:
        yield conn


@pytest.fixture(scope="module")
def pysonic(world: World) -> libsonic.Connection:
    """py-sonic as admin: POST form bodies, token auth, booleans sent as "True"/"False"."""
    return world.pysonic()


@contextlib.contextmanager
def _closing(conn: libopensonic.Connection) -> Iterator[libopensonic.Connection]:
    try:
        yield conn
    finally:
        conn.cleanup()  # its aiohttp session and the event loop thread it runs on


@contextlib.asynccontextmanager
async def async_client(world: World, user: str = "admin") -> AsyncIterator[libopensonic.AsyncConnection]:
    """py-opensonic's own async connection, for the byte endpoints: they answer its aiohttp response."""
    password = ADMIN_PW if user == "admin" else BOB_PW
    conn = libopensonic.AsyncConnection("http://127.0.0.1", user, password, port=world.port, app_name="tests")
    try:
        yield conn
    finally:
        await conn.cleanup()


def rest_audio(world: World, user: str = "admin") -> list[dict[str, Any]]:
    """Every audio item as the REST API lists it to `user`."""
    r = world.api("GET", "/api/v1/media", user, params={"kind": "audio", "per_page": 100})
    r.raise_for_status()
    assert r.json()["meta"]["has_more"] is False
    items: list[dict[str, Any]] = r.json()["data"]
    return items


def rest_item(world: World, media_id: str, user: str = "admin") -> dict[str, Any]:
    r = world.api("GET", f"/api/v1/media/{media_id}", user)
    r.raise_for_status()
    item: dict[str, Any] = r.json()["data"]
    return item


def song_id(world: World, title: str) -> str:
    return next(m["id"] for m in rest_audio(world) if m["title"] == title)


def album_id(conn: libopensonic.Connection, name: str) -> str:
    return next(a.id for a in conn.get_album_list2("alphabeticalByName", size=500) if a.name == name)


def history(world: World, user: str = "admin") -> list[dict[str, Any]]:
    r = world.api("GET", "/api/v1/me/history", user, params={"per_page": 100})
    r.raise_for_status()
    entries: list[dict[str, Any]] = r.json()["data"]
    return entries


def decoded(data: bytes) -> tuple[str, str, float]:
    """The container, the audio codec and the decoded duration (s) of an encoded file's bytes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return container.format.name, stream.codec_context.name, samples / stream.codec_context.sample_rate


def on_disk(world: World, relative: str) -> bytes:
    """A library file's bytes, from the `path` a song reports (relative to its media folder)."""
    return (Path(world.server.media_dir) / relative).read_bytes()


# --- system: ping, license, extensions, folders, scans, users ---------------------------------------

def test_ping_and_license_through_both_clients(admin: libopensonic.Connection, pysonic: libsonic.Connection) -> None:
    assert admin.ping() is True
    assert pysonic.ping() is True
    assert pysonic.getLicense()["license"]["valid"] is True
    assert admin.get_license()["license"]["valid"] is True


def test_extensions_are_advertised_and_public(world: World, admin: libopensonic.Connection) -> None:
    names = {e.name for e in admin.get_open_subsonic_extensions()}
    assert names >= EXTENSIONS
    # Apps ask before they have credentials: no u, p, t, s or apiKey at all.
    raw = world.raw("getOpenSubsonicExtensions", user=None)
    body = raw.json()["subsonic-response"]
    assert body["status"] == "ok" and {e["name"] for e in body["openSubsonicExtensions"]} >= EXTENSIONS
    posted = httpx.post(f"{world.base}/rest/getOpenSubsonicExtensions.view", data={"f": "json"}, timeout=30)
    assert posted.json()["subsonic-response"]["status"] == "ok"


def test_music_folders_name_the_media_folder(world: World, pysonic: libsonic.Connection) -> None:
    # py-sonic: libopensonic 10.4.1 cannot read this answer (it expects a list where the spec has an object).
    folders = pysonic.getMusicFolders()["musicFolders"]["musicFolder"]
    assert [f["name"] for f in folders] == [Path(world.server.media_dir).name]
    assert world.ok("getMusicFolders")["musicFolders"]["musicFolder"][0]["id"] == folders[0]["id"]


def test_start_scan_is_for_admins_and_scan_status_counts_the_songs(world: World, admin: libopensonic.Connection,
                                                                      bob: libopensonic.Connection) -> None:
    with pytest.raises(os_errors.AuthError):  # 50
        bob.start_scan()
    started = admin.start_scan()
    assert started.scanning in (True, False)  # a scan of a few files may end before the answer
    deadline = time.monotonic() + 60
    while (status := admin.get_scan_status()).scanning:
        assert time.monotonic() < deadline, "the scan never ended"
        time.sleep(0.2)
    assert status.count == len(rest_audio(world))
    assert bob.get_scan_status().scanning is False  # anyone may watch


def test_get_user_is_yourself_unless_admin(bob: libopensonic.Connection, admin: libopensonic.Connection) -> None:
    me = bob.get_user("bob")
    assert me.username == "bob" and me.admin_role is False and me.stream_role is True and me.playlist_role is True
    with pytest.raises(os_errors.AuthError):
        bob.get_user("admin")
    assert admin.get_user("bob").username == "bob"
    assert admin.get_user("admin").admin_role is True
    with pytest.raises(os_errors.DataNotFoundError):
        admin.get_user("nobody-here")


def test_get_users_is_admin_only(world: World, pysonic: libsonic.Connection) -> None:
    users = {u["username"]: u for u in pysonic.getUsers()["users"]["user"]}
    assert {"admin", "bob"} <= set(users)
    assert users["admin"]["adminRole"] is True and users["bob"]["adminRole"] is False
    with pytest.raises(py_errors.AuthError):
        world.pysonic("bob").getUsers()


# --- browsing by tags: artists, albums, songs --------------------------------------------------------

def test_two_disc_album_is_one_album_in_disc_order(world: World, admin: libopensonic.Connection) -> None:
    album = admin.get_album(album_id(admin, TWO_DISCS))
    assert album.artist == "Big Band" and album.song_count == 2
    songs = album.song or []
    assert [(s.disc_number, s.track, s.title) for s in songs] == [(1, 1, "Disc 1 Opener"), (2, 1, "Disc 2 Opener")]
    assert {s.album_id for s in songs} == {album.id}
    assert album.duration == sum(s.duration or 0 for s in songs)
    raw = world.ok("getAlbum", {"id": album.id})["album"]  # the raw JSON too: the client's models coerce
    assert [(s["discNumber"], s["track"]) for s in raw["song"]] == [(1, 1), (2, 1)]


def test_compilation_is_by_various_artists(admin: libopensonic.Connection, world: World) -> None:
    album = admin.get_album(album_id(admin, SUMMER_MIX))
    assert album.artist == "Various Artists" and album.is_compilation is True
    assert [s.artist for s in album.song or []] == ["Artist A", "Artist B"]
    assert {s.display_album_artist for s in album.song or []} == {"Various Artists"}
    various = admin.get_artist(album.artist_id or "")
    assert various.name == "Various Artists" and [a.name for a in various.album or []] == [SUMMER_MIX]
    assert world.ok("getAlbum", {"id": album.id})["album"]["isCompilation"] is True
    # A track artist without albums of their own still opens, with the compilation they are on.
    artist_a = admin.get_artist((album.song or [])[0].artist_id or "")
    assert artist_a.name == "Artist A" and [a.name for a in artist_a.album or []] == [SUMMER_MIX]


def test_artists_index_by_album_artist(admin: libopensonic.Connection) -> None:
    index = {i.name: [a.name for a in i.artist or []] for i in admin.get_artists().index or []}
    assert "Big Band" in index["B"] and "Björk Tribute" in index["B"]
    assert index["V"] == ["Various Artists"]
    assert not any("Artist A" in names for names in index.values())  # a compilation's track artist
    big_band = next(a for i in admin.get_artists().index or [] for a in i.artist or [] if a.name == "Big Band")
    assert [a.name for a in admin.get_artist(big_band.id).album or []] == [TWO_DISCS]


def test_get_song_is_the_library_item(world: World, pysonic: libsonic.Connection) -> None:
    circle = song_id(world, "Circle")
    song = pysonic.getSong(circle)["song"]
    rest = rest_item(world, circle)
    assert (song["title"], song["artist"], song["album"], song["size"]) == (
        rest["title"], rest["artist"], rest["album"], rest["size"])
    assert song["suffix"] == "flac" and song["contentType"] == "audio/flac" and song["isVideo"] is False
    with pytest.raises(py_errors.DataNotFoundError):
        pysonic.getSong("999999")


def test_indexes_and_music_directory_browse_artist_album_tracks(admin: libopensonic.Connection,
                                                                pysonic: libsonic.Connection) -> None:
    indexes = admin.get_indexes()
    big_band = next(a for i in indexes.index or [] if i.name == "B" for a in i.artist or [] if a.name == "Big Band")
    artist_dir = admin.get_music_directory(big_band.id)
    assert artist_dir.name == "Big Band"
    [album] = artist_dir.child or []
    assert album.is_dir is True and album.title == TWO_DISCS and album.parent == big_band.id
    album_dir = admin.get_music_directory(album.id)
    assert album_dir.parent == big_band.id
    assert [(c.is_dir, c.disc_number, c.title) for c in album_dir.child or []] == [
        (False, 1, "Disc 1 Opener"), (False, 2, "Disc 2 Opener")]
    # ifModifiedSince at the index's own lastModified: nothing changed, nothing listed (py-sonic reads the
    # timestamp as seconds; the server speaks milliseconds).
    since = pysonic.getIndexes()["indexes"]["lastModified"]
    assert not pysonic.getIndexes(ifModifiedSince=round(since * 1000))["indexes"].get("index")


def test_genres_count_songs_and_albums_as_the_library_does(world: World, admin: libopensonic.Connection) -> None:
    songs = rest_audio(world)
    expected = {g: (n, len({m["album"] for m in songs if m["genre"] == g}))
                for g, n in Counter(m["genre"] for m in songs if m["genre"]).items()}
    got = {g.value: (g.song_count, g.album_count) for g in admin.get_genres()}
    assert got == expected
    assert got["Swing"] == (4, 2)  # the two-disc album and the compilation


def test_songs_by_genre_pages(admin: libopensonic.Connection) -> None:
    swing = admin.get_songs_by_genre("Swing", count=10)
    assert sorted(s.title for s in swing) == ["Disc 1 Opener", "Disc 2 Opener", "Summer Song 1", "Summer Song 2"]
    pages = [admin.get_songs_by_genre("Swing", count=3, offset=o) for o in (0, 3)]
    assert [len(p) for p in pages] == [3, 1]
    assert [s.id for p in pages for s in p] == [s.id for s in swing]
    assert admin.get_songs_by_genre("No Such Genre") == []


def test_random_songs_are_distinct_songs_of_the_size_asked(world: World, admin: libopensonic.Connection) -> None:
    audio = {m["id"] for m in rest_audio(world)}
    songs = admin.get_random_songs(size=3)
    assert len(songs) == 3 and len({s.id for s in songs}) == 3 and {s.id for s in songs} <= audio
    ambient = admin.get_random_songs(size=10, genre="Ambient")
    assert sorted(s.title for s in ambient) == ["Circle", "Square"]
    assert {s.year for s in admin.get_random_songs(size=10, from_year=2001, to_year=2001)} == {2001}


def test_album_lists_of_every_type(admin: libopensonic.Connection, pysonic: libsonic.Connection) -> None:
    by_name = [a.name for a in admin.get_album_list2("alphabeticalByName", size=500)]
    assert {TWO_DISCS, SUMMER_MIX, HOMOGENIC, "Loops"} <= set(by_name)
    assert [n for n in by_name if not n.startswith("[")] == sorted(n for n in by_name if not n.startswith("["))
    # Paging: two pages of two and the rest, together the whole list once.
    pages = [a.name for o in range(0, len(by_name), 2) for a in admin.get_album_list2("alphabeticalByName", 2, o)]
    assert pages == by_name
    years = pysonic.getAlbumList2("byYear", 50, fromYear=2001, toYear=2001)["albumList2"]["album"]
    assert sorted(a["name"] for a in years) == [SUMMER_MIX, TWO_DISCS]
    genre = pysonic.getAlbumList2("byGenre", 50, genre="Ambient")["albumList2"]["album"]
    assert [a["name"] for a in genre] == ["Loops"]
    for kind in ("random", "newest", "alphabeticalByArtist"):
        assert sorted(a.name for a in admin.get_album_list2(kind, size=500)) == sorted(by_name), kind
    # getAlbumList (folder form): the same albums, as directories.
    legacy_list = admin.get_album_list("alphabeticalByName", size=500)
    assert [a.name for a in legacy_list] == by_name
    raw = pysonic.getAlbumList("alphabeticalByName", 500)["albumList"]["album"]
    assert all(a["isDir"] is True and a["title"] == a["name"] for a in raw)
    with pytest.raises(py_errors.SonicError):
        pysonic.getAlbumList2("no-such-list")


def test_top_songs_are_the_artists_most_played(world: World, admin: libopensonic.Connection,
                                               bob: libopensonic.Connection) -> None:
    disc_2 = song_id(world, "Disc 2 Opener")
    for _ in range(3):  # plays by anyone count
        bob.scrobble(disc_2, submission=True)
    top = admin.get_top_songs("Big Band", count=10)
    assert [s.id for s in top][:1] == [disc_2]
    assert sorted(s.title for s in top) == ["Disc 1 Opener", "Disc 2 Opener"]
    assert len(admin.get_top_songs("Big Band", count=1)) == 1
    assert admin.get_top_songs("Nobody At All") == []


def test_similar_songs_share_the_artist_or_a_genre(world: World, admin: libopensonic.Connection) -> None:
    seed = admin.get_song(song_id(world, "Disc 1 Opener"))
    similar = admin.get_similar_songs2(seed.id, count=50)
    assert {s.title for s in similar} >= {"Disc 2 Opener", "Summer Song 1", "Summer Song 2"}
    assert all(s.artist == "Big Band" or s.genre == "Swing" for s in similar)
    assert all(not s.is_video for s in similar)
    assert len(admin.get_similar_songs2(seed.id, count=2)) == 2
    by_artist = admin.get_similar_songs2(seed.artist_id or "", count=50)  # an artist's id works too
    assert {s.id for s in by_artist} == {s.id for s in similar}
    with pytest.raises(os_errors.DataNotFoundError):
        admin.get_similar_songs2("999999")


def test_artist_and_album_info(admin: libopensonic.Connection, pysonic: libsonic.Connection) -> None:
    album = admin.get_album(album_id(admin, TWO_DISCS))
    assert admin.get_artist_info2(album.artist_id or "") is not None
    assert admin.get_album_info2(album.id) is not None
    assert "artistInfo2" in pysonic.getArtistInfo2(album.artist_id)
    assert "albumInfo" in pysonic.getAlbumInfo2(album.id)
    with pytest.raises(os_errors.DataNotFoundError):
        admin.get_artist_info2("ar-0000000000000000")
    with pytest.raises(py_errors.DataNotFoundError):
        pysonic.getAlbumInfo2("al-0000000000000000")


def test_videos_and_video_info(world: World, admin: libopensonic.Connection, pysonic: libsonic.Connection) -> None:
    r = world.api("GET", "/api/v1/media", params={"kind": "video", "per_page": 100})
    rest = {m["id"]: m["title"] for m in r.json()["data"]}
    videos = admin.get_videos()["videos"]["video"]
    assert {v["id"]: v["title"] for v in videos} == rest
    assert all(v["isVideo"] is True and v["contentType"].startswith("video/") for v in videos)
    bars = next(v for v in videos if v["title"] == "Bars Clip")
    assert (bars["originalWidth"], bars["originalHeight"]) == (rest_item(world, bars["id"])["width"],
                                                               rest_item(world, bars["id"])["height"])
    info = pysonic.getVideoInfo(bars["id"])["videoInfo"]
    assert info["id"] == bars["id"] and len(info["audioTrack"]) == 1
    with pytest.raises(py_errors.DataNotFoundError):  # a song is not a video
        pysonic.getVideoInfo(song_id(world, "Circle"))


# --- search: the empty-query sync ----------------------------------------------------------------------

def test_search3_empty_query_pages_through_every_song_once(world: World, admin: libopensonic.Connection) -> None:
    """Symfonium and Substreamer sync a library this way: pages of songs until one comes back short."""
    seen: list[str] = []
    while True:
        page = admin.search3("", artist_count=0, album_count=0, song_count=3, song_offset=len(seen)).song or []
        seen += [s.id for s in page]
        if len(page) < 3:
            break
        assert len(seen) <= 100, "the pages never ended"
    assert len(seen) == len(set(seen)), "a song came twice"
    assert sorted(seen) == sorted(m["id"] for m in rest_audio(world)), "songs missing or extra"


def test_search3_empty_query_pages_albums_and_artists(admin: libopensonic.Connection) -> None:
    albums = [a.id for o in range(0, 30, 2)
              for a in admin.search3("", artist_count=0, album_count=2, album_offset=o, song_count=0).album or []]
    assert sorted(albums) == sorted(a.id for a in admin.get_album_list2("alphabeticalByName", size=500))
    artists = [a.id for o in range(0, 30, 2)
               for a in admin.search3("", artist_count=2, artist_offset=o, album_count=0, song_count=0).artist or []]
    assert sorted(artists) == sorted(a.id for i in admin.get_artists().index or [] for a in i.artist or [])


def test_search_finds_words(pysonic: libsonic.Connection, admin: libopensonic.Connection) -> None:
    result = pysonic.search2("Summer")["searchResult2"]
    assert [a["title"] for a in result["album"]] == [SUMMER_MIX]
    assert sorted(s["title"] for s in result["song"]) == ["Summer Song 1", "Summer Song 2"]
    assert [s.title for s in admin.search3("joga").song or []] == ["Jóga"]  # accents folded
    assert [a.name for a in admin.search3("big band").artist or []] == ["Big Band"]
    assert not (admin.search3("zzzzunfindable").song or [])


# --- stars, ratings, scrobbles: the same likes and plays as the REST API -----------------------------

def test_star_and_unstar_are_the_rest_apis_likes(world: World, admin: libopensonic.Connection,
                                                 pysonic: libsonic.Connection) -> None:
    song = song_id(world, "Jóga")
    album = album_id(admin, HOMOGENIC)
    artist = admin.get_album(album).artist_id or ""
    admin.star(sids=[song], album_ids=[album], artist_ids=[artist])
    assert rest_item(world, song)["liked"] is True
    favorites = world.api("GET", "/api/v1/me/favorites", params={"per_page": 100}).json()["data"]
    assert song in {m["id"] for m in favorites}
    starred = admin.get_starred2()
    assert song in {s.id for s in starred.song or []}
    assert album in {a.id for a in admin.get_album_list2("starred", size=500)}
    assert album in {a.id for a in starred.album or []} and artist in {a.id for a in starred.artist or []}
    assert song in {s["id"] for s in pysonic.getStarred()["starred"]["song"]}
    assert admin.get_song(song).starred is not None
    admin.unstar(sids=[song], album_ids=[album], artist_ids=[artist])
    assert rest_item(world, song)["liked"] is False
    after = admin.get_starred2()
    assert song not in {s.id for s in after.song or []} and album not in {a.id for a in after.album or []}


def test_a_like_in_the_web_ui_is_a_star(world: World, admin: libopensonic.Connection) -> None:
    song = song_id(world, "Square")
    world.api("PUT", f"/api/v1/media/{song}/like").raise_for_status()
    assert song in {s.id for s in admin.get_starred2().song or []}
    world.api("DELETE", f"/api/v1/media/{song}/like").raise_for_status()
    assert song not in {s.id for s in admin.get_starred2().song or []}


def test_stars_are_per_user(world: World, bob: libopensonic.Connection, admin: libopensonic.Connection) -> None:
    song = song_id(world, "Bachelorette")
    bob.star(sids=[song])
    assert rest_item(world, song, "bob")["liked"] is True
    assert rest_item(world, song)["liked"] is False
    assert song not in {s.id for s in admin.get_starred2().song or []}
    bob.unstar(sids=[song])


def test_ratings(world: World, pysonic: libsonic.Connection, admin: libopensonic.Connection) -> None:
    song = song_id(world, "Disc 1 Opener")
    pysonic.setRating(song, 4)
    assert admin.get_song(song).user_rating == 4
    album = album_id(admin, "Loops")
    admin.set_rating(album, 5)
    assert admin.get_album(album).user_rating == 5
    assert album in {a.id for a in admin.get_album_list2("highest", size=500)}
    admin.set_rating(album, 0)  # 0 removes the rating
    assert admin.get_album(album).user_rating is None
    with pytest.raises(os_errors.DataNotFoundError):
        admin.set_rating("999999", 3)


def test_scrobble_submission_is_a_play_in_the_history(world: World, admin: libopensonic.Connection) -> None:
    song = song_id(world, "Circle")
    before = rest_item(world, song)["play_count"]
    plays_before = len(history(world))
    admin.scrobble(song, submission=True)
    assert rest_item(world, song)["play_count"] == before + 1
    entries = history(world)
    assert len(entries) == plays_before + 1
    assert entries[0]["media"]["id"] == song and entries[0]["completed"] is True
    assert admin.get_song(song).play_count == before + 1
    loops = admin.get_album(album_id(admin, "Loops"))
    assert (loops.play_count or 0) >= 1 and loops.played is not None
    for kind in ("recent", "frequent"):
        assert album_id(admin, "Loops") in {a.id for a in admin.get_album_list2(kind, size=500)}, kind


def test_scrobble_time_is_when_it_was_played(world: World, pysonic: libsonic.Connection) -> None:
    """Apps queue scrobbles while offline and send them later with `time`: the history says when."""
    song = song_id(world, "Summer Song 1")
    before = [e["id"] for e in history(world)]
    pysonic.scrobble(song, submission=True)
    recent = rest_item(world, song)["last_played_at"]
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    pysonic.scrobble(song, submission=True, listenTime=when.timestamp())
    [late] = [e for e in history(world) if e["id"] not in before and _when(e["played_at"]) < _when(recent)]
    assert late["media"]["id"] == song and abs((_when(late["played_at"]) - when).total_seconds()) < 1
    assert rest_item(world, song)["last_played_at"] == recent  # a late report is not the last play
    # A clock running ahead does not put a play in the future.
    ahead = datetime.now(UTC) + timedelta(days=1)
    world.ok("scrobble", {"id": song, "time": int(ahead.timestamp() * 1000)})
    assert _when(history(world)[0]["played_at"]) <= datetime.now(UTC)


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_scrobble_not_submitted_is_now_playing(world: World, bob: libopensonic.Connection,
                                               admin: libopensonic.Connection) -> None:
    song = song_id(world, "Square")
    plays_before = len(history(world, "bob"))
    with _closing(libopensonic.Connection("http://127.0.0.1", "bob", BOB_PW, port=world.port,
                                          app_name="Pocket Player")) as phone:
        phone.scrobble(song, submission=False)
    entry = next(e for e in admin.get_now_playing() if e.player_name == "Pocket Player")  # everyone sees it
    assert entry.username == "bob"
    assert (entry.id, entry.title, entry.player_name, entry.minutes_ago) == (song, "Square", "Pocket Player", 0)
    assert len(history(world, "bob")) == plays_before  # not a play
    assert world.ok("getNowPlaying", user="bob")["nowPlaying"]["entry"]


# --- playlists: the same playlists as the REST API ------------------------------------------------------

def test_playlists_made_by_a_client_are_the_rest_apis(world: World, admin: libopensonic.Connection,
                                                      pysonic: libsonic.Connection) -> None:
    disc_1, disc_2, circle = (song_id(world, t) for t in ("Disc 1 Opener", "Disc 2 Opener", "Circle"))
    assert admin.create_playlist(name="Made in an app", song_ids=[disc_1, disc_2]) is True
    made = next(p for p in admin.get_playlists() if p.name == "Made in an app")
    rest = world.api("GET", f"/api/v1/playlists/{made.id}").json()["data"]
    assert [i["media_id"] for i in rest["items"]] == [disc_1, disc_2] and rest["is_public"] is False
    admin.update_playlist(made.id, name="Renamed in an app", comment="for the road", song_ids_to_add=[circle],
                          song_indices_to_remove=[0])
    rest = world.api("GET", f"/api/v1/playlists/{made.id}").json()["data"]
    assert (rest["name"], rest["description"]) == ("Renamed in an app", "for the road")
    assert [i["media_id"] for i in rest["items"]] == [disc_2, circle]
    got = pysonic.getPlaylist(made.id)["playlist"]
    assert [e["id"] for e in got["entry"]] == [disc_2, circle] and got["songCount"] == 2
    assert got["owner"] == "admin" and got["readonly"] is False
    admin.create_playlist(playlist_id=made.id, song_ids=[circle, circle])  # replaces the songs
    assert [e.id for e in admin.get_playlist(made.id).entry or []] == [circle, circle]
    pysonic.deletePlaylist(made.id)
    assert world.api("GET", f"/api/v1/playlists/{made.id}").status_code == 404


def test_playlists_made_in_the_web_ui_are_the_clients(world: World, admin: libopensonic.Connection) -> None:
    r = world.api("POST", "/api/v1/playlists", json={"name": "Made on the web", "description": "desk"})
    r.raise_for_status()
    made = r.json()["data"]
    song = song_id(world, "Jóga")
    world.api("POST", f"/api/v1/playlists/{made['id']}/items", json={"media_id": song}).raise_for_status()
    listed = next(p for p in admin.get_playlists() if p.id == made["id"])
    assert (listed.name, listed.comment, listed.song_count) == ("Made on the web", "desk", 1)
    assert [e.title for e in admin.get_playlist(made["id"]).entry or []] == ["Jóga"]
    admin.delete_playlist(made["id"])
    assert world.api("GET", f"/api/v1/playlists/{made['id']}").status_code == 404


def test_another_users_playlists(world: World, admin: libopensonic.Connection, bob: libopensonic.Connection) -> None:
    song = song_id(world, "Circle")
    admin.create_playlist(name="Admin's secret", song_ids=[song])
    secret = next(p for p in admin.get_playlists() if p.name == "Admin's secret")
    with pytest.raises(os_errors.DataNotFoundError):  # 70: a private playlist is not there for others
        bob.get_playlist(secret.id)
    assert secret.id not in {p.id for p in bob.get_playlists()}
    world.api("PATCH", f"/api/v1/playlists/{secret.id}", json={"is_public": True}).raise_for_status()
    shared = bob.get_playlist(secret.id)
    assert shared.readonly is True and shared.public is True and shared.owner == "admin"
    assert [e.id for e in shared.entry or []] == [song]
    assert next(p for p in bob.get_playlists() if p.id == secret.id).readonly is True
    with pytest.raises(os_errors.AuthError):  # 50: read-only
        bob.update_playlist(secret.id, name="Bob's now")
    with pytest.raises(os_errors.AuthError):
        bob.create_playlist(playlist_id=secret.id, song_ids=[song, song])
    with pytest.raises(os_errors.AuthError):
        bob.delete_playlist(secret.id)
    assert [e.id for e in admin.get_playlist(secret.id).entry or []] == [song]
    # Neither client library sends updatePlaylist's `public`; apps do.
    world.ok("updatePlaylist", {"playlistId": secret.id, "public": "false"})
    assert world.api("GET", f"/api/v1/playlists/{secret.id}").json()["data"]["is_public"] is False
    with pytest.raises(os_errors.DataNotFoundError):
        bob.get_playlist(secret.id)
    admin.delete_playlist(secret.id)


# --- bookmarks and play queues --------------------------------------------------------------------------

def test_bookmark_is_the_resume_point(world: World, admin: libopensonic.Connection) -> None:
    song = song_id(world, "Disc 2 Opener")
    admin.create_bookmark(song, 1500, comment="halfway")
    assert world.api("GET", f"/api/v1/media/{song}/progress").json()["data"]["position_s"] == 1.5
    mark = next(b for b in admin.get_bookmarks() if b.entry.id == song)
    assert (mark.position, mark.comment, mark.username) == (1500, "halfway", "admin")
    assert admin.get_song(song).bookmark_position == 1500
    # The web player saving a position moves the app's bookmark.
    world.api("PUT", f"/api/v1/media/{song}/progress", json={"position_s": 0.75}).raise_for_status()
    assert next(b for b in admin.get_bookmarks() if b.entry.id == song).position == 750
    admin.delete_bookmark(song)
    assert world.api("GET", f"/api/v1/media/{song}/progress").json()["data"]["position_s"] is None
    assert song not in {b.entry.id for b in admin.get_bookmarks()}


def test_play_queue_by_id(world: World, admin: libopensonic.Connection, pysonic: libsonic.Connection) -> None:
    one, two = song_id(world, "Disc 1 Opener"), song_id(world, "Disc 2 Opener")
    admin.save_play_queue([one, two], current=two, position=2500)
    queue = admin.get_play_queue()
    assert [e.id for e in queue.entry or []] == [one, two]
    assert (queue.current, queue.position, queue.username, queue.changed_by) == (two, 2500, "admin", "tests")
    assert pysonic.getPlayQueue()["playQueue"]["current"] == two


def test_play_queue_by_index_keeps_a_song_twice(world: World, admin: libopensonic.Connection) -> None:
    one, two = song_id(world, "Disc 1 Opener"), song_id(world, "Disc 2 Opener")
    admin.save_play_queue_by_index([one, two, one], current_index=2, position=700)
    queue = admin.get_play_queue_by_index()
    assert [e.id for e in queue.entry or []] == [one, two, one]
    assert (queue.current_index, queue.position) == (2, 700)  # the second `one`, not the first
    by_id = admin.get_play_queue()  # the id form names the song, the only thing it can
    assert by_id.current == one and [e.id for e in by_id.entry or []] == [one, two, one]
    admin.save_play_queue_by_index()  # no ids: cleared
    assert not (admin.get_play_queue_by_index().entry or [])


def test_play_queues_are_per_user(world: World, admin: libopensonic.Connection, bob: libopensonic.Connection) -> None:
    song = song_id(world, "Square")
    bob.save_play_queue([song], current=song)
    admin.save_play_queue_by_index([song_id(world, "Circle")], current_index=0)
    assert [e.id for e in bob.get_play_queue().entry or []] == [song]


# --- bytes: stream, download, cover art, avatar -------------------------------------------------------

async def test_stream_is_the_file_and_ranges_slice_it(world: World, admin: libopensonic.Connection) -> None:
    song = admin.get_song(song_id(world, "Disc 1 Opener"))
    original = on_disk(world, song.path or "")
    async with async_client(world) as conn:
        whole = await conn.stream(song.id)
        assert whole.status == 200 and await whole.read() == original
        assert whole.headers["Content-Type"] == "audio/mpeg"
        part = await conn.stream(song.id, byte_range="bytes=100-1099")
        assert part.status == 206 and await part.read() == original[100:1100]
        assert part.headers["Content-Range"] == f"bytes 100-1099/{len(original)}"
        tail = await conn.stream(song.id, byte_range="bytes=-500")
        assert tail.status == 206 and await tail.read() == original[-500:]
        raw = await conn.stream(song.id, tformat="raw")
        assert await raw.read() == original


async def test_stream_transcodes_to_mp3(world: World, admin: libopensonic.Connection) -> None:
    circle = admin.get_song(song_id(world, "Circle"))  # FLAC, 3 s
    async with async_client(world) as conn:
        r = await conn.stream(circle.id, tformat="mp3")
        data = await r.read()
        assert r.headers["Content-Type"] == "audio/mpeg"
        container, codec, seconds = decoded(data)
        assert (container, codec) == ("mp3", "mp3float") and abs(seconds - 3) < 0.2
        assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)  # a tag or a frame sync
        later = await (await conn.stream(circle.id, tformat="mp3", time_offset=1)).read()
        assert abs(decoded(later)[2] - 2) < 0.2  # transcodeOffset: starts 1 s in
        small = await (await conn.stream(circle.id, max_bit_rate=64)).read()
        assert decoded(small)[:2] == ("mp3", "mp3float") and len(small) < len(data) / 2  # at 64 kbps


def test_stream_estimated_length_through_py_sonic(world: World, pysonic: libsonic.Connection) -> None:
    r = pysonic.stream(song_id(world, "Circle"), tformat="opus", estimateContentLength=True)
    body = r.read()
    assert int(r.headers["Content-Length"]) == len(body)
    assert decoded(body)[:2] == ("ogg", "opus")


def test_download_is_the_original_file(world: World, pysonic: libsonic.Connection,
                                       admin: libopensonic.Connection) -> None:
    song = admin.get_song(song_id(world, "Jóga"))
    r = pysonic.download(song.id)
    assert r.read() == on_disk(world, song.path or "")
    assert "attachment" in r.headers["Content-Disposition"]
    assert "filename*=UTF-8''01%20J%C3%B3ga.mp3" in r.headers["Content-Disposition"]


async def test_cover_art_is_resized(world: World, admin: libopensonic.Connection) -> None:
    album = album_id(admin, HOMOGENIC)
    async with async_client(world) as conn:
        full = Image.open(io.BytesIO(await (await conn.get_cover_art(album)).read()))
        for size in (64, 300):
            r = await conn.get_cover_art(album, size=size)
            image = Image.open(io.BytesIO(await r.read()))
            assert r.headers["Content-Type"] == "image/jpeg" and image.format == "JPEG"
            assert max(image.size) == min(size, max(full.size)), size
        # Sizes between the cached buckets round up to the next bucket: never blurrier than asked.
        odd = Image.open(io.BytesIO(await (await conn.get_cover_art(album, size=100)).read()))
        assert 100 <= max(odd.size) <= min(b for b in BUCKETS if b >= 100)
        larger = Image.open(io.BytesIO(await (await conn.get_cover_art(album, size=4000)).read()))
        assert larger.size == full.size  # never enlarged
        song = await (await conn.get_cover_art(f"mf-{song_id(world, 'Jóga')}", size=32)).read()
        assert Image.open(io.BytesIO(song)).size == (32, 32)
        with pytest.raises(os_errors.DataNotFoundError):
            await conn.get_cover_art(album_id(admin, TWO_DISCS))  # no art in its files


def test_avatar_is_a_png(pysonic: libsonic.Connection) -> None:
    r = pysonic.getAvatar("bob")
    assert r.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(r.read())).format == "PNG"


# --- lyrics -------------------------------------------------------------------------------------------

def test_lyrics_by_song_id_synced_sidecar_and_embedded_text(world: World, admin: libopensonic.Connection) -> None:
    [synced] = admin.get_lyrics_by_song_id(song_id(world, "Circle"))
    assert synced.synced is True and synced.display_title == "Circle"
    assert [(line.start, line.value) for line in synced.line] == [(500, "first line"), (1750, "second line")]
    [plain] = admin.get_lyrics_by_song_id(song_id(world, "Jóga"))
    assert plain.synced is False and plain.lang == "eng"
    assert [line.value for line in plain.line] == EMBEDDED_LYRICS.splitlines()
    assert all(line.start is None for line in plain.line)
    assert admin.get_lyrics_by_song_id(song_id(world, "Square")) == []


def test_lyrics_by_artist_and_title(pysonic: libsonic.Connection, admin: libopensonic.Connection) -> None:
    lyrics = pysonic.getLyrics(artist="Björk Tribute", title="Jóga")["lyrics"]
    assert (lyrics["artist"], lyrics["title"], lyrics["value"]) == ("Björk Tribute", "Jóga", EMBEDDED_LYRICS)
    assert admin.get_lyrics(artist="steady hands", title="circle").value == "first line\nsecond line"
    assert admin.get_lyrics(artist="Nobody", title="Nothing").value == ""


# --- authentication: API keys, legacy passwords, wrong credentials -------------------------------------

def test_api_key_auth(world: World, keyed: libopensonic.Connection) -> None:
    assert keyed.ping() is True
    album = keyed.get_album(album_id(keyed, TWO_DISCS))
    assert [s.title for s in album.song or []] == ["Disc 1 Opener", "Disc 2 Opener"]
    assert keyed.get_user("admin").admin_role is True  # the key's owner
    song = song_id(world, "Square")
    keyed.star(sids=[song])
    assert rest_item(world, song)["liked"] is True
    keyed.unstar(sids=[song])
    keyed.create_bookmark(song, 1000)
    assert world.api("GET", f"/api/v1/media/{song}/progress").json()["data"]["position_s"] == 1.0
    keyed.delete_bookmark(song)


async def test_api_key_streams(world: World, keyed: libopensonic.Connection) -> None:
    song = keyed.get_song(song_id(world, "Disc 2 Opener"))
    conn = libopensonic.AsyncConnection("http://127.0.0.1", api_key=world.api_key, port=world.port)
    try:
        assert await (await conn.stream(song.id)).read() == on_disk(world, song.path or "")
    finally:
        await conn.cleanup()


def test_legacy_hex_password(world: World, legacy: libopensonic.Connection) -> None:
    assert legacy.ping() is True
    assert legacy.get_album(album_id(legacy, SUMMER_MIX)).artist == "Various Artists"
    assert legacy.get_user("admin").username == "admin"
    old_app = libsonic.Connection("http://127.0.0.1", "bob", BOB_PW, port=world.port, legacyAuth=True)
    assert old_app.getUser("bob")["user"]["username"] == "bob"
    assert old_app.getPlayQueue()["playQueue"]["username"] == "bob"


def test_legacy_hex_password_with_accents(world: World) -> None:
    """py-opensonic and py-sonic hex-encode each character's code point, not its UTF-8 bytes."""
    name, password = "dora", "pässwörd-ß"
    world.api("POST", "/api/v1/users", json={"username": name, "password": PASSWORD, "role": "user"}).raise_for_status()
    login = httpx.post(f"{world.base}/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    httpx.post(f"{world.base}/api/v1/auth/subsonic-password", json={"password": password},
               headers=headers).raise_for_status()
    with _closing(libopensonic.Connection("http://127.0.0.1", name, password, port=world.port,
                                          legacy_auth=True)) as conn:
        assert conn.get_user(name).username == name
    with _closing(libopensonic.Connection("http://127.0.0.1", name, password, port=world.port)) as token:
        assert token.ping() is True  # t = md5(UTF-8 password + salt)


def test_get_requests_and_bare_endpoint_names(world: World) -> None:
    with _closing(world.opensonic("bob", use_get=True, use_views=False)) as conn:
        assert conn.get_user("bob").username == "bob"
        assert [s.title for s in conn.get_album(album_id(conn, TWO_DISCS)).song or []][:1] == ["Disc 1 Opener"]


def test_wrong_password_is_error_40(world: World) -> None:
    with _closing(libopensonic.Connection("http://127.0.0.1", "admin", "not-it", port=world.port)) as conn:
        with pytest.raises(os_errors.CredentialError):
            conn.ping()
        with pytest.raises(os_errors.CredentialError):
            conn.get_album_list2("newest")
    with _closing(libopensonic.Connection("http://127.0.0.1", "admin", "not-it", port=world.port,
                                          legacy_auth=True)) as conn, pytest.raises(os_errors.CredentialError):
        conn.get_genres()
    wrong = libsonic.Connection("http://127.0.0.1", "bob", "not-it", port=world.port)
    with pytest.raises(py_errors.CredentialError):
        wrong.getGenres()
    with pytest.raises(py_errors.CredentialError):
        libsonic.Connection("http://127.0.0.1", "nobody", BOB_PW, port=world.port).ping()
    # The login password is not the Subsonic password.
    with pytest.raises(py_errors.CredentialError):
        libsonic.Connection("http://127.0.0.1", "admin", PASSWORD, port=world.port).ping()
    assert world.failed("ping", {"u": "admin", "p": "not-it"}, user=None, code=40)


def test_wrong_api_key_is_error_44(world: World) -> None:
    with _closing(libopensonic.Connection("http://127.0.0.1", api_key="mn_not-a-key", port=world.port)) as conn:
        with pytest.raises(os_errors.SonicError) as caught:  # the library has no class for 44
            conn.ping()
        assert not isinstance(caught.value, os_errors.CredentialError)
    assert world.failed("ping", {"apiKey": "mn_not-a-key"}, user=None, code=44)
    assert world.failed("getAlbumList2", {"apiKey": "mn_not-a-key", "type": "newest"}, user=None, code=44)
