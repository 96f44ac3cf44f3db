"""Imports every capability's models so Base.metadata knows all tables (Alembic, create_all)."""

from medianest.accounts.models import ApiKey, PlexPin, RefreshToken, User
from medianest.audit.models import AuditEvent
from medianest.db.base import Base
from medianest.downloads.models import Download, DownloadItem
from medianest.library.models import Media, Scan, UnreadableFile
from medianest.playback.models import Play, UserMedia
from medianest.playlists.models import Playlist, PlaylistItem

__all__ = ["ApiKey", "AuditEvent", "Base", "Download", "DownloadItem", "Media", "Play", "Playlist", "PlaylistItem",
           "PlexPin", "RefreshToken", "Scan", "UnreadableFile", "User", "UserMedia"]
