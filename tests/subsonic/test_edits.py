"""Changes through Subsonic are whole: a call that is refused keeps nothing of itself."""

from __future__ import annotations

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
