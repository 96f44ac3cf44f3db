"""Imports every capability's models so Base.metadata knows all tables (Alembic, create_all)."""

from medianest.accounts.models import ApiKey, PlexPin, RefreshToken, User
from medianest.audit.models import AuditEvent
from medianest.connections.models import PlexRefresh, ServiceCheck, ServiceConfig, StatusMonitor
from medianest.db.base import Base
from medianest.downloads.models import Download, DownloadItem
from medianest.library.models import Album, Artist, LibraryFolder, Media, Scan, UnreadableFile, UserCatalog, UserMedia
from medianest.playback.models import NowPlaying, Play, PlayQueue
from medianest.playlists.models import Playlist, PlaylistItem
from medianest.requests.models import MediaRequest
from medianest.speech.models import SpeechRequest
from medianest.subscriptions.models import Subscription, SubscriptionItem
from medianest.subtitles.models import Subtitle

__all__ = ["Album", "ApiKey", "Artist", "AuditEvent", "Base", "Download", "DownloadItem", "LibraryFolder", "Media",
           "MediaRequest", "NowPlaying", "Play", "PlayQueue", "Playlist", "PlaylistItem", "PlexPin", "PlexRefresh",
           "RefreshToken", "Scan", "ServiceCheck", "ServiceConfig", "SpeechRequest", "StatusMonitor",
           "Subscription", "SubscriptionItem", "Subtitle", "UnreadableFile",
           "User", "UserCatalog", "UserMedia"]
