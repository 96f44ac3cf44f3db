"""Lists: getAlbumList, getAlbumList2, getRandomSongs, getSongsByGenre, getStarred, getStarred2,
getNowPlaying, search2, search3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medianest.library import browse
from medianest.library.models import CATALOG_ALBUM, CATALOG_ARTIST
from medianest.playback import queue
from medianest.subsonic import shapes
from medianest.subsonic.browsing import album_dir, albums_out, songs_out
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.protocol import Payload, missing

MAX_LIST = 500  # the spec's maximum for album lists and random songs
MAX_SEARCH = 500  # per kind and page: a sync asks for 500 at a time; more would only be a bigger page
YEAR_MAX = 9999
NEEDS = {"byYear": ("fromYear", "toYear"), "byGenre": ("genre",)}  # required with these list types


async def _albums(call: Call) -> list[dict[str, Any]]:
    p = call.params
    kind = p.str("type")
    for name in NEEDS.get(kind, ()):
        if not p.opt(name):
            raise missing(name)
    rows = await browse.album_list(call.session, call.user.id, kind, p.int("offset", 0, 0),
                                   p.int("size", 10, 0, MAX_LIST), _where(call))
    return await albums_out(call, rows)


def _where(call: Call) -> browse.AlbumFilter:
    """fromYear, toYear and genre; years held to four digits, as a year column is 32 bits (PostgreSQL
    refuses a larger number outright) and no year past them matches anything."""
    p = call.params
    return browse.AlbumFilter(p.opt_int("fromYear", -YEAR_MAX, YEAR_MAX), p.opt_int("toYear", -YEAR_MAX, YEAR_MAX),
                              p.opt("genre"))


async def get_album_list2(call: Call) -> Payload:
    return {"albumList2": {"album": await _albums(call)}}


async def get_album_list(call: Call) -> Payload:
    # Child-shaped (the spec), with the album fields too: libopensonic reads these as albums.
    return {"albumList": {"album": [a | album_dir(a, a["artistId"]) for a in await _albums(call)]}}


async def get_random_songs(call: Call) -> Payload:
    rows = await browse.random_tracks(call.session, call.user.id, call.params.int("size", 10, 0, MAX_LIST),
                                      _where(call))
    return {"randomSongs": {"song": songs_out(call, rows)}}


async def get_songs_by_genre(call: Call) -> Payload:
    p = call.params
    rows = await browse.genre_tracks(call.session, call.user.id, p.str("genre"), p.int("offset", 0, 0),
                                     p.int("count", 10, 0, MAX_LIST))
    return {"songsByGenre": {"song": songs_out(call, rows)}}


async def _starred(call: Call) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    artists = await browse.starred_catalog(call.session, call.user.id, CATALOG_ARTIST)
    albums = await browse.starred_catalog(call.session, call.user.id, CATALOG_ALBUM)
    songs = await browse.starred_tracks(call.session, call.user.id)
    return ([shapes.artist(a, s) for a, s in artists], await albums_out(call, [a for a, _ in albums]),
            songs_out(call, songs))


async def get_starred2(call: Call) -> Payload:
    artists, albums, songs = await _starred(call)
    return {"starred2": {"artist": artists, "album": albums, "song": songs}}


async def get_starred(call: Call) -> Payload:
    artists, albums, songs = await _starred(call)
    return {"starred": {"artist": [_folder_artist(a) for a in artists],
                        "album": [album_dir(a, a["artistId"]) for a in albums], "song": songs}}


def _folder_artist(artist: dict[str, Any]) -> dict[str, Any]:
    return {"id": artist["id"], "name": artist["name"], "starred": artist.get("starred"),
            "userRating": artist.get("userRating")}


async def _search(call: Call) -> tuple[list[Any], list[Any], Sequence[browse.SongRow]]:
    p = call.params
    query = (p.opt("query") or "").strip()
    artists = await browse.search_artists(call.session, query, p.int("artistOffset", 0, 0),
                                          p.int("artistCount", 20, 0, MAX_SEARCH))
    albums = await browse.search_albums(call.session, query, p.int("albumOffset", 0, 0),
                                        p.int("albumCount", 20, 0, MAX_SEARCH))
    songs = await browse.search_tracks(call.session, call.parts.cursors, call.user.id, query,
                                       p.int("songOffset", 0, 0), p.int("songCount", 20, 0, MAX_SEARCH))
    return artists, albums, songs


async def search3(call: Call) -> Payload:
    """An empty query (or `""`, as Symfonium sends it) lists everything, paged: apps sync this way."""
    artists, albums, songs = await _search(call)
    return {"searchResult3": {"artist": [shapes.artist(a) for a in artists], "album": await albums_out(call, albums),
                              "song": songs_out(call, songs)}}


async def search2(call: Call) -> Payload:
    artists, albums, songs = await _search(call)
    return {"searchResult2": {"artist": [_folder_artist(shapes.artist(a)) for a in artists],
                              "album": [album_dir(a, a["artistId"]) for a in await albums_out(call, albums)],
                              "song": songs_out(call, songs)}}


async def get_now_playing(call: Call) -> Payload:
    entries = []
    for entry in await queue.now_playing(call.session):
        song = songs_out(call, [(entry.media, None)])[0]
        entries.append(song | {"username": entry.username, "minutesAgo": entry.minutes_ago,
                               "playerId": entry.player_id, "playerName": entry.player})
    return {"nowPlaying": {"entry": entries}}


ENDPOINTS: dict[str, Handler] = {
    "getAlbumList": get_album_list, "getAlbumList2": get_album_list2, "getRandomSongs": get_random_songs,
    "getSongsByGenre": get_songs_by_genre, "getStarred": get_starred, "getStarred2": get_starred2,
    "search2": search2, "search3": search3, "getNowPlaying": get_now_playing,
}
