"""getPlaylists, getPlaylist, createPlaylist, updatePlaylist, deletePlaylist: the same playlists as the web
UI's. Another user's public playlist is readable and marked `readonly`; a private one is not found (70)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from medianest.accounts.models import User
from medianest.library import browse
from medianest.playlists import service
from medianest.playlists.models import Playlist, PlaylistItem
from medianest.playlists.schemas import PlaylistIn, PlaylistPatch
from medianest.subsonic import shapes
from medianest.subsonic.browsing import songs_out
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.params import as_int
from medianest.subsonic.protocol import GENERIC, NOT_AUTHORIZED, NOT_FOUND, Payload, SubsonicError

NAME_MAX = 255


async def get_playlists(call: Call) -> Payload:
    stmt = service.visible_to(call.user.id)
    name = call.params.opt("username")
    if name is not None and name.lower() != call.user.username_key:
        if not call.user.is_admin:
            raise SubsonicError(NOT_AUTHORIZED, "only an admin can list another user's playlists")
        stmt = stmt.join(User, User.id == Playlist.owner_id).where(User.username_key == name.lower())
    rows = (await call.session.scalars(stmt.order_by(Playlist.name, Playlist.id))).all()
    return {"playlists": {"playlist": [await _summary(call, pl) for pl in rows]}}


async def _summary(call: Call, pl: Playlist) -> dict[str, Any]:
    out = await service.summary(call.session, pl)
    owner = await call.session.scalar(select(User.username).where(User.id == pl.owner_id))
    first = await call.session.scalar(select(PlaylistItem.media_id).where(PlaylistItem.playlist_id == pl.id)
                                      .order_by(PlaylistItem.position).limit(1))
    return {"id": str(pl.id), "name": pl.name, "comment": pl.description, "owner": owner, "public": pl.is_public,
            "songCount": out.item_count, "duration": int(out.duration_s), "created": pl.created_at,
            "changed": pl.updated_at, "coverArt": f"{shapes.ITEM_COVER}{first}" if first else None,
            "readonly": pl.owner_id != call.user.id}


async def get_playlist(call: Call) -> Payload:
    pl = await service.readable(call.session, call.user.id, _id(call.params.str("id")))
    return {"playlist": await _with_songs(call, pl)}


async def _with_songs(call: Call, pl: Playlist) -> dict[str, Any]:
    ids = list(await call.session.scalars(select(PlaylistItem.media_id).where(PlaylistItem.playlist_id == pl.id)
                                          .order_by(PlaylistItem.position, PlaylistItem.id)))
    rows = await browse.items(call.session, call.user.id, ids)
    return await _summary(call, pl) | {"entry": songs_out(call, rows)}


async def create_playlist(call: Call) -> Payload:
    """With `playlistId`, replaces that playlist's songs; else makes a new one named `name`."""
    songs = [shapes.parse_item(s) for s in call.params.all("songId")]
    existing = call.params.opt("playlistId")
    if existing is not None:
        pl_id = _id(existing)
        await service.edit_items(call.session, call.user.id, pl_id, songs, replace=True)
        pl = await service.readable(call.session, call.user.id, pl_id)
    else:
        pl = await service.create(call.session, call.user.id, PlaylistIn(name=_name(call.params.str("name"))))
        await service.edit_items(call.session, call.user.id, pl.id, songs)
    await call.session.refresh(pl)
    return {"playlist": await _with_songs(call, pl)}


async def update_playlist(call: Call) -> Payload:
    p = call.params
    pl_id = _id(p.str("playlistId"))
    patch: dict[str, Any] = {}
    if p.opt("name") is not None:
        patch["name"] = _name(p.str("name"))
    if p.opt("comment") is not None:
        patch["description"] = p.str("comment")[:2000]
    if p.opt("public") is not None:
        patch["is_public"] = p.bool("public", False)
    changes = PlaylistPatch(**patch)  # validated before anything is written
    add = [shapes.parse_item(s) for s in p.all("songIdToAdd")]
    remove = [as_int(i, "songIndexToRemove") for i in p.all("songIndexToRemove")]
    # The items first: they are what can be refused (a song gone, a position out of range), and then
    # nothing of the call is kept; the name and flags cannot fail once the playlist is known to be ours.
    if add or remove:
        await service.edit_items(call.session, call.user.id, pl_id, add, remove)
    await service.patch(call.session, call.user.id, pl_id, changes)
    return {}


async def delete_playlist(call: Call) -> Payload:
    await service.delete(call.session, call.user.id, _id(call.params.str("id")))
    return {}


def _id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise SubsonicError(NOT_FOUND, "playlist not found")
    return int(raw)


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > NAME_MAX:
        raise SubsonicError(GENERIC, f"a playlist name is 1 to {NAME_MAX} characters")
    return name


ENDPOINTS: dict[str, Handler] = {
    "getPlaylists": get_playlists, "getPlaylist": get_playlist, "createPlaylist": create_playlist,
    "updatePlaylist": update_playlist, "deletePlaylist": delete_playlist,
}
