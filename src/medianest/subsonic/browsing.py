"""Browsing: getIndexes, getMusicDirectory, getArtists, getArtist, getAlbum, getSong, getGenres,
getArtistInfo2, getAlbumInfo2, getTopSongs, getSimilarSongs2, getVideos, getVideoInfo.

The folder-style endpoints (getIndexes, getMusicDirectory) browse the same catalog as the ID3 ones, as
Navidrome does: artists, then their albums as folders, then the tracks; apps that browse by folder and
apps that browse by tags see one library.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from medianest.library import browse
from medianest.library.catalog import ARTICLES, key
from medianest.library.models import CATALOG_ALBUM, CATALOG_ARTIST, KIND_AUDIO, KIND_VIDEO, Artist, Media
from medianest.subsonic import shapes
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.protocol import NOT_FOUND, Payload, SubsonicError
from medianest.transcoding.streams import streams_of

IGNORED_ARTICLES = " ".join(a.strip().title() for a in ARTICLES)


async def get_artists(call: Call) -> Payload:
    return {"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": await _index(call)}}


async def get_indexes(call: Call) -> Payload:
    changed = await call.session.scalar(select(func.max(Media.updated_at)))
    modified = int(changed.timestamp() * 1000) if changed else 0
    since = call.params.opt_int("ifModifiedSince")
    index = [] if since is not None and since >= modified else await _index(call)
    return {"indexes": {"ignoredArticles": IGNORED_ARTICLES, "lastModified": modified, "index": index}}


async def _index(call: Call) -> list[dict[str, Any]]:
    """The album artists under their first letter ("#" for the rest), articles skipped."""
    rows = await browse.artists(call.session)
    states = await browse.album_states(call.session, call.user.id, CATALOG_ARTIST, [a.id for a in rows])
    return [{"name": letter, "artist": [shapes.artist(a, states.get(a.id)) for a in group]}
            for letter, group in itertools.groupby(rows, _letter)]


def _letter(artist: Artist) -> str:
    first = artist.sort_name[:1].upper()
    return first if first.isalpha() else "#"


async def get_artist(call: Call) -> Payload:
    artist_key = shapes.parse_key(call.params.str("id"), shapes.ARTIST, "artist")
    return {"artist": await _artist_with_albums(call, artist_key)}


async def _artist_with_albums(call: Call, artist_key: str) -> dict[str, Any]:
    row, name = await browse.artist(call.session, artist_key)
    albums = await browse.artist_albums(call.session, artist_key)
    state = (await browse.album_states(call.session, call.user.id, CATALOG_ARTIST, [artist_key])).get(artist_key)
    head = shapes.artist(row, state) if row is not None else shapes.track_artist(name)
    return head | {"albumCount": len(albums), "album": await albums_out(call, albums)}


async def albums_out(call: Call, albums: Sequence[Any]) -> list[dict[str, Any]]:
    keys = [a.id for a in albums]
    states = await browse.album_states(call.session, call.user.id, CATALOG_ALBUM, keys)
    plays = await browse.album_plays(call.session, call.user.id, keys)
    return [shapes.album(a, states.get(a.id), plays.get(a.id)) for a in albums]


async def get_album(call: Call) -> Payload:
    album_key = shapes.parse_key(call.params.str("id"), shapes.ALBUM, "album")
    return {"album": await _album_with_songs(call, album_key)}


async def _album_with_songs(call: Call, album_key: str) -> dict[str, Any]:
    row = await browse.album(call.session, album_key)
    tracks = await browse.album_tracks(call.session, call.user.id, album_key)
    head = (await albums_out(call, [row]))[0]
    return head | {"song": songs_out(call, tracks)}


def songs_out(call: Call, rows: Sequence[browse.SongRow]) -> list[dict[str, Any]]:
    roots = call.parts.settings.library_dirs
    return [shapes.child(m, s, roots) for m, s in rows]


async def get_song(call: Call) -> Payload:
    return {"song": songs_out(call, [await one_item(call, call.params.str("id"), KIND_AUDIO)])[0]}


async def one_item(call: Call, raw_id: str, kind: str | None = None) -> browse.ItemRow:
    rows = await browse.items(call.session, call.user.id, [shapes.parse_item(raw_id)], kind)
    if not rows:
        raise SubsonicError(NOT_FOUND, f"{'video' if kind == KIND_VIDEO else 'song'} not found")
    return rows[0]


async def get_music_directory(call: Call) -> Payload:
    raw = call.params.str("id")
    if raw.startswith(shapes.ARTIST):
        artist = await _artist_with_albums(call, shapes.parse_key(raw, shapes.ARTIST, "directory"))
        children = [album_dir(a, artist["id"]) for a in artist["album"]]
        return {"directory": {"id": artist["id"], "name": artist["name"], "child": children}}
    album = await _album_with_songs(call, shapes.parse_key(raw, shapes.ALBUM, "directory"))
    return {"directory": {"id": album["id"], "parent": album["artistId"], "name": album["name"],
                          "starred": album.get("starred"), "playCount": album["playCount"], "child": album["song"]}}


def album_dir(album: dict[str, Any], parent: str) -> dict[str, Any]:
    return {"id": album["id"], "parent": parent, "isDir": True, "title": album["name"], "album": album["name"],
            "artist": album["artist"], "year": album.get("year"), "genre": album.get("genre"),
            "coverArt": album["coverArt"], "created": album["created"], "starred": album.get("starred"),
            "playCount": album["playCount"], "mediaType": "album"}


async def get_genres(call: Call) -> Payload:
    rows = await browse.genres(call.session)
    return {"genres": {"genre": [{"value": g, "songCount": n, "albumCount": a} for g, n, a in rows]}}


async def get_artist_info2(call: Call) -> Payload:
    await _artist_of(call, call.params.str("id"))  # 70 for an unknown id; the library knows no biographies
    return {"artistInfo2": {}}


async def _artist_of(call: Call, raw: str) -> str:
    """The artist key behind an artist, album or song id."""
    if raw.startswith(shapes.ARTIST):
        artist_key = shapes.parse_key(raw, shapes.ARTIST, "artist")
        await browse.artist(call.session, artist_key)
        return artist_key
    if raw.startswith(shapes.ALBUM):
        return (await browse.album(call.session, shapes.parse_key(raw, shapes.ALBUM, "album"))).artist_key
    media, _ = await one_item(call, raw, KIND_AUDIO)
    return media.artist_key or ""


async def get_album_info2(call: Call) -> Payload:
    raw = call.params.str("id")
    if raw.startswith(shapes.ALBUM):
        await browse.album(call.session, shapes.parse_key(raw, shapes.ALBUM, "album"))
    else:
        await one_item(call, raw, KIND_AUDIO)
    return {"albumInfo": {}}


async def get_top_songs(call: Call) -> Payload:
    count = call.params.int("count", 50, 0, 500)
    raw = call.params.opt("id")
    artist_key = await _artist_of(call, raw) if raw else key(call.params.str("artist"))
    rows = await browse.artist_tracks(call.session, call.user.id, artist_key, count)
    return {"topSongs": {"song": songs_out(call, rows)}}


async def get_similar_songs2(call: Call) -> Payload:
    artist_key = await _artist_of(call, call.params.str("id"))
    count = call.params.int("count", 50, 0, 500)
    genres = await browse.artist_genres(call.session, artist_key)
    rows = await browse.similar_tracks(call.session, call.user.id, artist_key, genres, count)
    return {"similarSongs2": {"song": songs_out(call, rows)}}


async def get_videos(call: Call) -> Payload:
    return {"videos": {"video": songs_out(call, await browse.videos(call.session, call.user.id))}}


async def get_video_info(call: Call) -> Payload:
    media, _ = await one_item(call, call.params.str("id"), KIND_VIDEO)
    _, info = await call.parts.stream_access.file(media.id)
    streams = await streams_of(info.path, info.size, info.mtime)
    tracks = [{"id": str(t.index), "name": t.title or t.language or f"Track {t.index + 1}",
               "languageCode": t.language or ""} for t in streams.audio]
    return {"videoInfo": {"id": str(media.id), "audioTrack": tracks}}


ENDPOINTS: dict[str, Handler] = {
    "getIndexes": get_indexes, "getArtists": get_artists, "getArtist": get_artist, "getAlbum": get_album,
    "getSong": get_song, "getMusicDirectory": get_music_directory, "getGenres": get_genres,
    "getArtistInfo2": get_artist_info2, "getAlbumInfo2": get_album_info2,
    "getAlbumInfo": get_album_info2, "getTopSongs": get_top_songs, "getSimilarSongs2": get_similar_songs2,
    "getVideos": get_videos, "getVideoInfo": get_video_info,
}
