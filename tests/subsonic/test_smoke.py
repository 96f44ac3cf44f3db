"""First light: the server answers Subsonic calls from a real client."""

from __future__ import annotations

from tests.subsonic.conftest import World


def test_ping_through_both_clients(world: World) -> None:
    assert world.opensonic().ping() is True
    assert world.pysonic().ping() is True
    assert world.ok("getAlbumList2", {"type": "newest", "size": 50})["albumList2"]["album"]
