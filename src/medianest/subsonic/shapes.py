"""Our rows in Subsonic's shapes (docs/Responses): a song or video is a `Child`, an album `AlbumID3`, an
artist `ArtistID3`. Ids are strings: an item's is its number, an album's "al-<key>", an artist's
"ar-<key>" (library/catalog.py), a cover's the id of what it belongs to, "mf-<n>" for one item's own."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from medianest.library.catalog import UNKNOWN_ALBUM, UNKNOWN_ARTIST, album_artist_of, key
from medianest.library.models import KIND_VIDEO, Album, Artist, Media, UserCatalog, UserMedia
from medianest.subsonic.protocol import NOT_FOUND, SubsonicError

ALBUM, ARTIST, ITEM_COVER = "al-", "ar-", "mf-"


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


def child(media: Media, state: UserMedia | None, roots: Sequence[Path]) -> dict[str, Any]:
    """A song (or video) as a `Child`."""
    video = media.kind == KIND_VIDEO
    by = album_artist_of(media.artist, media.album_artist, media.compilation)
    out: dict[str, Any] = {
        "id": str(media.id), "isDir": False, "title": media.title, "isVideo": video,
        # mediaType says what the id names (the spec's enum: song, album, artist): a file, video or not.
        "type": "video" if video else "music", "mediaType": "song",
        "size": media.size, "contentType": media.mime, "suffix": _suffix(media.path),
        "duration": int(media.duration_s or 0), "path": _relative(media.path, roots),
        "created": media.added_at, "coverArt": ITEM_COVER + str(media.id) if media.artwork else None,
        "bitRate": (media.bitrate or 0) // 1000 or None, "year": media.year, "genre": media.genre,
        "genres": [{"name": media.genre}] if media.genre else [], "sortName": "", "musicBrainzId": "",
    }
    if not video:
        out |= {"parent": album_id(media.album_key or ""), "album": media.album or UNKNOWN_ALBUM,
                "artist": media.artist or UNKNOWN_ARTIST, "albumId": album_id(media.album_key or ""),
                "artistId": artist_id(media.artist_key or ""), "track": media.track, "discNumber": media.disc,
                "coverArt": ITEM_COVER + str(media.id) if media.artwork else album_id(media.album_key or ""),
                "displayArtist": media.artist or UNKNOWN_ARTIST, "displayAlbumArtist": by,
                "artists": [{"id": artist_id(media.artist_key or ""), "name": media.artist or UNKNOWN_ARTIST}],
                "albumArtists": [{"id": artist_id(media.album_artist_key or ""), "name": by}]}
    else:
        out |= {"originalWidth": media.width, "originalHeight": media.height}
    return out | _item_state(state)


def _item_state(state: UserMedia | None) -> dict[str, Any]:
    if state is None:
        return {"playCount": 0}
    return {"playCount": state.play_count, "played": state.last_played_at,
            "starred": state.liked_at if state.liked else None, "userRating": state.rating,
            "bookmarkPosition": int(state.position_s * 1000) if state.position_s else None}


def album(row: Album, state: UserCatalog | None = None, plays: tuple[int, datetime | None] | None = None,
          ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": album_id(row.id), "name": row.name, "artist": row.artist, "artistId": artist_id(row.artist_key),
        "coverArt": album_id(row.id), "songCount": row.song_count, "duration": int(row.duration_s),
        "created": row.created_at, "year": row.year, "genre": row.genre, "isCompilation": row.compilation,
        "sortName": row.sort_name, "displayArtist": row.artist, "musicBrainzId": "",
        "artists": [{"id": artist_id(row.artist_key), "name": row.artist}],
        "genres": [{"name": row.genre}] if row.genre else [], "playCount": plays[0] if plays else 0,
        "played": plays[1] if plays else None,
    }
    return out | _catalog_state(state)


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
