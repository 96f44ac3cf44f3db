"""Our rows in Subsonic's shapes (docs/Responses): a song or video is a `Child`, an album `AlbumID3`, an
artist `ArtistID3`. Ids are strings: an item's is its number, an album's "al-<key>", an artist's
"ar-<key>" (library/catalog.py), a cover's the id of what it belongs to, "mf-<n>" for one item's own; a podcast
channel's "pc-<subscription>" and an episode's "pe-<subscription item>" (never a song's number: the two are
different things, and a song id must not name an episode)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row

from medianest.library.catalog import UNKNOWN_ALBUM, UNKNOWN_ARTIST, album_artist_of, key
from medianest.library.models import KIND_VIDEO, Album, Artist, Media, UserCatalog, UserMedia
from medianest.subsonic.protocol import NOT_FOUND, Present, SubsonicError

ALBUM, ARTIST, ITEM_COVER = "al-", "ar-", "mf-"
CHANNEL, EPISODE = "pc-", "pe-"


def album_id(album_key: str) -> str:
    return ALBUM + album_key


def artist_id(artist_key: str) -> str:
    return ARTIST + artist_key


def parse_key(value: str, prefix: str, kind: str) -> str:
    """The catalog key inside an album or artist id; error 70 for anything else."""
    rest = value[len(prefix):] if value.startswith(prefix) else ""
    if len(rest) != 16 or not all(c in "0123456789abcdef" for c in rest):
        raise SubsonicError(NOT_FOUND, f"{kind} not found")
    return rest


def parse_item(value: str, kind: str = "song") -> int:
    text = value.removeprefix(ITEM_COVER)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise SubsonicError(NOT_FOUND, f"{kind} not found")
    return int(text)


def parse_prefixed(value: str, prefix: str, kind: str) -> int:
    """The number inside a prefixed id ("pc-12"); error 70 for anything else."""
    text = value[len(prefix):] if value.startswith(prefix) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise SubsonicError(NOT_FOUND, f"{kind} not found")
    return int(text)


def child(media: Media | Row[Any], state: UserMedia | Row[Any] | None, roots: Sequence[Path]) -> Present:
    """A song (or video) as a `Child`, without the fields that have no value (a sync asks for 100,000 of
    these, 500 at a time: this is the hot path, hence one pass and no second walk by the renderer)."""
    m = media
    mid = str(m.id)
    out: dict[str, Any]
    if m.kind == KIND_VIDEO:
        out = {"id": mid, "isDir": False, "title": m.title, "isVideo": True, "type": "video", "mediaType": "song",
               "coverArt": ITEM_COVER + mid if m.artwork else None, "originalWidth": m.width,
               "originalHeight": m.height}
    else:
        album, artist = album_id(m.album_key or ""), m.artist or UNKNOWN_ARTIST
        by = album_artist_of(m.artist, m.album_artist, m.compilation)
        # mediaType says what the id names (the spec's enum: song, album, artist): a file, video or not.
        out = {"id": mid, "isDir": False, "title": m.title, "isVideo": False, "type": "music", "mediaType": "song",
               "parent": album, "album": m.album or UNKNOWN_ALBUM, "artist": artist, "albumId": album,
               "artistId": artist_id(m.artist_key or ""), "track": m.track, "discNumber": m.disc,
               "coverArt": ITEM_COVER + mid if m.artwork else album, "displayArtist": artist,
               "displayAlbumArtist": by, "artists": [{"id": artist_id(m.artist_key or ""), "name": artist}],
               "albumArtists": [{"id": artist_id(m.album_artist_key or ""), "name": by}]}
    genre, bitrate = m.genre, m.bitrate
    out |= {"size": m.size, "contentType": m.mime, "suffix": _suffix(m.path), "duration": int(m.duration_s or 0),
            "path": _relative(m.path, roots), "created": m.added_at, "bitRate": bitrate // 1000 if bitrate else None,
            "year": m.year, "genre": genre, "genres": [{"name": genre}] if genre else [], "sortName": "",
            "musicBrainzId": ""}
    out |= _item_state(state)
    return Present.of(out)


def _item_state(state: UserMedia | Row[Any] | None) -> dict[str, Any]:
    if state is None:
        return {"playCount": 0}
    return {"playCount": state.play_count, "played": state.last_played_at,
            "starred": state.liked_at if state.liked else None, "userRating": state.rating,
            "bookmarkPosition": int(state.position_s * 1000) if state.position_s else None}


def album(row: Album, state: UserCatalog | None = None, plays: tuple[int, datetime | None] | None = None,
          ) -> Present:
    out: dict[str, Any] = {
        "id": album_id(row.id), "name": row.name, "artist": row.artist, "artistId": artist_id(row.artist_key),
        "coverArt": album_id(row.id), "songCount": row.song_count, "duration": int(row.duration_s),
        "created": row.created_at, "year": row.year, "genre": row.genre, "isCompilation": row.compilation,
        "sortName": row.sort_name, "displayArtist": row.artist, "musicBrainzId": "",
        "artists": [{"id": artist_id(row.artist_key), "name": row.artist}],
        "genres": [{"name": row.genre}] if row.genre else [], "playCount": plays[0] if plays else 0,
        "played": plays[1] if plays else None,
    }
    out |= _catalog_state(state)
    return Present.of(out)  # a page of 500 in a sync of albums


def artist(row: Artist, state: UserCatalog | None = None) -> dict[str, Any]:
    return {"id": artist_id(row.id), "name": row.name, "coverArt": artist_id(row.id), "albumCount": row.album_count,
            "sortName": row.sort_name, "musicBrainzId": "", "roles": ["albumartist"]} | _catalog_state(state)


def track_artist(name: str) -> dict[str, Any]:
    """An artist with tracks but no album of their own: not in the artists table, found by name."""
    return {"id": artist_id(key(name)), "name": name, "albumCount": 0, "coverArt": artist_id(key(name))}


def _catalog_state(state: UserCatalog | None) -> dict[str, Any]:
    if state is None:
        return {}
    return {"starred": state.starred_at, "userRating": state.rating}


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1].lstrip(".").lower()


def _relative(path: str, roots: Sequence[Path]) -> str:
    """The path below its media folder (apps show it; the server's own layout stays private)."""
    for root in roots:
        base = str(root).rstrip(os.sep) + os.sep
        if path.startswith(base):
            return path[len(base):]
    return os.path.basename(path)
