"""Changes through Subsonic are whole (a call that is refused keeps nothing of itself), and read the same
through every endpoint that shows them."""

from __future__ import annotations

from tests.subsonic import spec
from tests.subsonic.accounts import new_account
from tests.subsonic.conftest import World


def test_an_update_refused_for_a_missing_song_keeps_the_old_name(world: World) -> None:
    created = world.ok("createPlaylist", {"name": "Whole or nothing"})["playlist"]
    try:
        error = world.failed("updatePlaylist", {"playlistId": created["id"], "name": "Renamed",
                                                "songIdToAdd": "999999999"}, code=70)
        assert "not found" in error["message"]
        playlist = world.ok("getPlaylist", {"id": created["id"]})["playlist"]
        assert playlist["name"] == "Whole or nothing" and playlist["songCount"] == 0
    finally:
        world.ok("deletePlaylist", {"id": created["id"]})


def test_a_repeated_parameter_counts_once_by_its_first_value(world: World) -> None:
    """As Navidrome reads it; `size` given twice is the first size."""
    albums = world.ok("getAlbumList2", [("type", "alphabeticalByName"), ("size", "1"), ("size", "3")])
    assert len(albums["albumList2"]["album"]) == 1


def test_a_sync_page_s_songs_are_getsong_s_songs_with_the_user_s_state(world: World) -> None:
    """The sync (search3 "") builds its 500-song pages from plain rows; getSong from the ORM. A song and
    its user's state (star, rating, plays, bookmark) must read the same both ways, in JSON and in XML."""
    me = new_account(world.server, "syncer")
    songs = me.ok("search3", {"query": "", "songCount": 500, "artistCount": 0, "albumCount": 0})
    ids = [s["id"] for s in songs["searchResult3"]["song"]]
    starred, rated, played, marked = ids[0], ids[1], ids[2], ids[3]
    me.ok("star", {"id": starred})
    me.ok("setRating", {"id": rated, "rating": 4})
    me.ok("scrobble", {"id": played, "submission": "true"})
    me.ok("createBookmark", {"id": marked, "position": 61_500})
    page = me.ok("search3", {"query": "", "songCount": 500, "artistCount": 0, "albumCount": 0})
    synced = {s["id"]: s for s in page["searchResult3"]["song"]}
    assert synced.keys() == set(ids)
    for song_id in ids:
        assert synced[song_id] == me.ok("getSong", {"id": song_id})["song"], song_id
    assert "starred" in synced[starred] and synced[rated]["userRating"] == 4
    assert synced[played]["playCount"] == 1 and synced[marked]["bookmarkPosition"] == 61_500
    assert "starred" not in synced[rated] and "userRating" not in synced[starred]
    sync_xml = spec.xml_fields(me.raw("search3", {"query": "", "songCount": 500, "artistCount": 0, "albumCount": 0},
                                      fmt="xml").content, "search3")
    xml_songs = {song["id"]: song for song in sync_xml["subsonic-response"]["searchResult3"]["song"]}
    for song_id in ids:
        one = spec.xml_fields(me.raw("getSong", {"id": song_id}, fmt="xml").content, "getSong")
        assert xml_songs[song_id] == one["subsonic-response"]["song"], song_id
