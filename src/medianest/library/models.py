"""Media items, files the scanner could not read, and scans."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import AUTOINCREMENT, Base, IdMixin, IdType, UTCDateTime, utcnow

KIND_AUDIO, KIND_VIDEO = "audio", "video"


class Media(IdMixin, Base):
    __tablename__ = "media"
    __table_args__ = (
        Index("ix_media_kind_title", "kind", "title"),
        Index("ix_media_artist", "artist"),
        Index("ix_media_album", "album"),
        Index("ix_media_added_at", "added_at"),
        Index("ix_media_source", "source_site", "source_id"),
        Index("ix_media_album_key", "album_key"),
        Index("ix_media_artist_key", "artist_key"),
        # The listing's seek indexes (library/listing.py), one per sort, over the live items only.
        *(Index(f"ix_media_live_{sort}", column, "id", sqlite_where=text("deleted_at IS NULL"),
                postgresql_where=text("deleted_at IS NULL"))
          for sort, column in (("title", "title"), ("artist", "artist"), ("album", "album"),
                               ("added_at", "added_at"), ("duration", "duration_s"))),
        AUTOINCREMENT,
    )

    kind: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(1024))
    artist: Mapped[str | None] = mapped_column(String(1024))
    album: Mapped[str | None] = mapped_column(String(1024))
    album_artist: Mapped[str | None] = mapped_column(String(1024))
    track: Mapped[int | None] = mapped_column(Integer)
    disc: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    genre: Mapped[str | None] = mapped_column(String(255))
    compilation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The catalog's keys (library/catalog.py), derived from the tags on every write: which album the item
    # belongs to, and which artists it and its album are by. Subsonic apps see them as stable ids.
    album_key: Mapped[str | None] = mapped_column(String(24))
    artist_key: Mapped[str | None] = mapped_column(String(24))
    album_artist_key: Mapped[str | None] = mapped_column(String(24))
    duration_s: Mapped[float | None] = mapped_column(Float)
    container: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    video_codec: Mapped[str | None] = mapped_column(String(32))
    bitrate: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text, unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[float] = mapped_column(Float)
    etag: Mapped[str | None] = mapped_column(String(200))  # an S3 object's ETag; None for a local file
    artwork: Mapped[str | None] = mapped_column(String(128))
    search_text: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str | None] = mapped_column(Text)
    source_site: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(1024))
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)  # from the file's tags (a podcast episode's notes)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UnreadableFile(IdMixin, Base):
    """A file the scanner found but could not read; kept so rescans skip it until it changes."""

    __tablename__ = "unreadable_files"
    __table_args__ = AUTOINCREMENT

    path: Mapped[str] = mapped_column(Text, unique=True)
    reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[float | None] = mapped_column(Float)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


FOLDER_ONLINE, FOLDER_OFFLINE = "online", "offline"


class LibraryFolder(IdMixin, Base):
    """A media folder (or a folder inside one) as the last scan found it. An offline folder (missing,
    unreadable, or suddenly empty: a share not mounted) keeps its items; they are unavailable until it
    is back."""

    __tablename__ = "library_folders"
    __table_args__ = AUTOINCREMENT

    path: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(String(16), default=FOLDER_ONLINE)
    reason: Mapped[str | None] = mapped_column(Text)
    offline_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


SCAN_QUEUED, SCAN_RUNNING, SCAN_COMPLETED, SCAN_FAILED = "queued", "running", "completed", "failed"
# A scan whose process died (kill -9, power loss) before it finished; set when that is noticed.
SCAN_INTERRUPTED = "interrupted"


class Scan(IdMixin, Base):
    __tablename__ = "scans"
    __table_args__ = AUTOINCREMENT

    status: Mapped[str] = mapped_column(String(16), default=SCAN_QUEUED)
    requested_by: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id", ondelete="SET NULL"))
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which process runs it ("host:pid:start-time") and when it last said so: a scan whose process is
    # gone is marked interrupted instead of staying "running" forever.
    owner: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The folders found offline by this scan: [{"path", "reason"}]; their items were kept.
    offline_folders: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)


# Per-user state of an item (liked, plays, resume point): here, not in playback/, because every item the
# library lists carries its user's state; playback/ and playlists/ write it.
class UserMedia(Base):
    __tablename__ = "user_media"
    __table_args__ = (
        Index("ix_user_media_user_liked", "user_id", "liked"),
        Index("ix_user_media_user_last_played", "user_id", "last_played_at"),
    )

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    media_id: Mapped[int] = mapped_column(IdType, ForeignKey("media.id", ondelete="CASCADE"),
                                          primary_key=True)
    liked: Mapped[bool] = mapped_column(Boolean, default=False)
    liked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    play_count: Mapped[int] = mapped_column(Integer, default=0)
    last_played_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position_s: Mapped[float | None] = mapped_column(Float)
    # A Subsonic app's note on its bookmark (the resume point above), and the user's 1-5 stars.
    bookmark_comment: Mapped[str | None] = mapped_column(String(1024))
    rating: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# The catalog: albums and artists as the tags make them (library/catalog.py keeps them in step with
# media). Kept as tables, not grouped on each request: a Subsonic app pages through 10,000 albums
# sorted by name, which grouping 100,000 tracks each time could not answer in milliseconds.
class Album(Base):
    __tablename__ = "albums"
    __table_args__ = (
        Index("ix_albums_sort_name", "sort_name", "id"),
        Index("ix_albums_added_at", "added_at", "id"),
        Index("ix_albums_artist_key", "artist_key"),
        Index("ix_albums_year", "year", "id"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # media.album_key
    name: Mapped[str] = mapped_column(String(1024))
    sort_name: Mapped[str] = mapped_column(String(1024))
    artist: Mapped[str] = mapped_column(String(1024))
    artist_key: Mapped[str] = mapped_column(String(24))
    year: Mapped[int | None] = mapped_column(Integer)
    genre: Mapped[str | None] = mapped_column(String(255))
    song_count: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    compilation: Mapped[bool] = mapped_column(Boolean, default=False)
    artwork: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # its first track's arrival
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)  # its latest track's: "newest" albums


class Artist(Base):
    """An album artist (the artists getArtists lists); a track artist with no album of their own is
    found through media.artist_key instead."""

    __tablename__ = "artists"
    __table_args__ = (Index("ix_artists_sort_name", "sort_name", "id"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(1024))
    sort_name: Mapped[str] = mapped_column(String(1024))
    album_count: Mapped[int] = mapped_column(Integer)
    song_count: Mapped[int] = mapped_column(Integer)
    artwork: Mapped[str | None] = mapped_column(String(128))


CATALOG_ALBUM, CATALOG_ARTIST = "album", "artist"


class UserCatalog(Base):
    """A user's star and rating on an album or artist (an item's are in user_media)."""

    __tablename__ = "user_catalog"
    __table_args__ = (Index("ix_user_catalog_starred", "user_id", "kind", "starred_at"),)

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(24), primary_key=True)
    starred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)


class MediaGeneration(Base):
    """One row counting the transactions that wrote media, bumped by triggers (migration 0009): what the
    listing remembers (library/listing.py) holds for one generation."""

    __tablename__ = "media_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)
    # PostgreSQL: the transaction that bumped it last, so that one transaction bumps it once.
    xact: Mapped[int | None] = mapped_column(BigInteger)
