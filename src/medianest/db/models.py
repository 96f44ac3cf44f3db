"""Imports every capability's models so Base.metadata knows all tables (Alembic, create_all)."""

from medianest.accounts.models import ApiKey, PlexPin, RefreshToken, User
from medianest.audit.models import AuditEvent
from medianest.connections.models import PlexRefresh, ServiceCheck, ServiceConfig, StatusMonitor
from medianest.db.base import Base
from medianest.downloads.models import Download, DownloadItem
from medianest.library.models import LibraryFolder, Media, Scan, UnreadableFile, UserMedia
from medianest.playback.models import Play
from medianest.playlists.models import Playlist, PlaylistItem
from medianest.requests.models import MediaRequest
from medianest.subtitles.models import Subtitle

__all__ = ["ApiKey", "AuditEvent", "Base", "Download", "DownloadItem", "LibraryFolder", "Media", "MediaRequest",
           "Play", "Playlist", "PlaylistItem", "PlexPin", "PlexRefresh", "RefreshToken", "Scan", "ServiceCheck",
           "ServiceConfig", "StatusMonitor", "Subtitle", "UnreadableFile", "User", "UserMedia"]
