"""ping, getLicense, getOpenSubsonicExtensions, getMusicFolders, getScanStatus, startScan, getUser, getUsers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from medianest.accounts.models import User
from medianest.library.models import KIND_AUDIO, SCAN_QUEUED, SCAN_RUNNING, Media
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.protocol import NOT_AUTHORIZED, NOT_FOUND, Payload, SubsonicError

# The OpenSubsonic extensions this server implements, with their versions (docs/Extensions).
EXTENSIONS = {"formPost": [1], "transcodeOffset": [1], "songLyrics": [1], "apiKeyAuthentication": [1],
              "indexBasedQueue": [1], "getPodcastEpisode": [1]}


async def ping(call: Call) -> Payload:
    return {}


async def get_license(call: Call) -> Payload:
    return {"license": {"valid": True}}


async def get_extensions(call: Call) -> Payload:
    return {"openSubsonicExtensions": [{"name": n, "versions": v} for n, v in EXTENSIONS.items()]}


async def get_music_folders(call: Call) -> Payload:
    roots = call.parts.settings.library_dirs
    return {"musicFolders": {"musicFolder": [{"id": i + 1, "name": r.name or str(r)} for i, r in enumerate(roots)]}}


async def get_scan_status(call: Call) -> Payload:
    return {"scanStatus": await _scan_status(call)}


async def start_scan(call: Call) -> Payload:
    if not call.user.is_admin:
        raise SubsonicError(NOT_AUTHORIZED, "only an admin can start a scan")
    await call.parts.scans.start(requested_by=call.user.id)
    return {"scanStatus": await _scan_status(call)}


async def _scan_status(call: Call) -> dict[str, Any]:
    latest = await call.parts.scans.latest()
    scanning = latest is not None and latest.status in (SCAN_QUEUED, SCAN_RUNNING)
    if scanning and latest is not None:
        return {"scanning": True, "count": latest.processed}
    count = await call.session.scalar(select(func.count()).select_from(Media).where(
        Media.deleted_at.is_(None), Media.kind == KIND_AUDIO))
    return {"scanning": False, "count": count or 0}


async def get_user(call: Call) -> Payload:
    name = call.params.str("username")
    if name.lower() != call.user.username_key and not call.user.is_admin:
        raise SubsonicError(NOT_AUTHORIZED, "you can only see your own account")
    user = await call.session.scalar(select(User).where(User.username_key == name.lower()))
    if user is None:
        raise SubsonicError(NOT_FOUND, "user not found")
    return {"user": _user(user, len(call.parts.settings.library_dirs))}


async def get_users(call: Call) -> Payload:
    if not call.user.is_admin:
        raise SubsonicError(NOT_AUTHORIZED, "only an admin can list users")
    users = (await call.session.scalars(select(User).order_by(User.username_key))).all()
    folders = len(call.parts.settings.library_dirs)
    return {"users": {"user": [_user(u, folders) for u in users]}}


def _user(user: User, folders: int) -> dict[str, Any]:
    """The roles as MediaNest grants them: everyone streams, downloads, makes playlists, scrobbles and follows
    podcasts (their own: subscriptions are personal); an admin also manages users and settings."""
    admin = user.is_admin
    return {"username": user.username, "email": "", "scrobblingEnabled": True, "adminRole": admin,
            "settingsRole": admin, "downloadRole": True, "uploadRole": False, "playlistRole": True,
            "coverArtRole": admin, "commentRole": True, "podcastRole": True, "streamRole": True,
            "jukeboxRole": False, "shareRole": False, "videoConversionRole": False,
            "folder": list(range(1, folders + 1))}


ENDPOINTS: dict[str, Handler] = {
    "ping": ping, "getLicense": get_license, "getOpenSubsonicExtensions": get_extensions,
    "getMusicFolders": get_music_folders, "getScanStatus": get_scan_status, "startScan": start_scan,
    "getUser": get_user, "getUsers": get_users,
}
