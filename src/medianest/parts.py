"""The composition root: `open_parts(settings, ...)` builds, once per process, the typed `Parts` it runs on
- the database, the queue and its registered tasks, the notifier, the HTTP client, the caches, limits and
the capabilities' long-lived objects - and closes them in reverse. The app's lifespan, `medianest worker`
and the CLI commands use it; routes get its members through typed dependencies (api/deps.py).

It is the one module that knows every capability: it hands each the others' hooks (where files landed,
what else to index per video), so no capability imports another one that sits beside or above it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from medianest.accounts.passwords import Passwords
from medianest.accounts.plex_signin import PlexSignIn, plex_sign_in
from medianest.accounts.service import Auth
from medianest.accounts.tokens import TokenSigner
from medianest.config import Settings
from medianest.connections import tasks as connection_tasks
from medianest.connections.clients import Integrations
from medianest.connections.tasks import PlexRefreshes
from medianest.db.engine import SessionFactory, create_engine, create_session_factory
from medianest.db.migrate import upgrade_async
from medianest.discovery.service import RemoteSearch, remote_search
from medianest.downloads import tasks as download_tasks
from medianest.downloads.service import Downloads
from medianest.events import LogNotifier, Notifier
from medianest.integrations.cache import StaleCache
from medianest.integrations.http import http_client
from medianest.jobs.processes import Processes
from medianest.jobs.queue import Jobs, Task
from medianest.library import tasks as library_tasks
from medianest.library.artwork import Artwork
from medianest.library.browse import Cursors
from medianest.library.buckets import bucket_folders
from medianest.library.scans import ScanRunner
from medianest.metrics import Metrics
from medianest.requests import tasks as request_tasks
from medianest.security.crypto import secret_box
from medianest.security.limits import RateLimits
from medianest.speech.source import SpeechSource
from medianest.storage.objects import Bucket
from medianest.streaming.access import StreamAccess
from medianest.subscriptions import tasks as subscription_tasks
from medianest.subscriptions.service import Subscriptions
from medianest.subtitles import service as subtitles
from medianest.transcoding import tasks as transcoding_tasks
from medianest.transcoding.service import Transcoding


@dataclass(frozen=True)
class Background:
    """The queue with every capability's tasks registered, and the handles others need."""

    jobs: Jobs
    download: Task  # "download N"
    scan: Task  # "scan N"
    plex: PlexRefreshes  # `landed`: where files went, for a Plex refresh
    subscription: Task  # "check subscription N"


def background(settings: Settings, job_notifier: Callable[[], Notifier] | None = None) -> Background:
    """The queue of this process; `job_notifier` makes each task's notifier, in the task's own loop."""
    jobs = Jobs(settings, job_notifier)
    plex = connection_tasks.register(jobs)
    request_tasks.register(jobs)
    download = download_tasks.register(jobs, landed=plex.landed, per_video=subtitles.index,
                                       sources={"speech": SpeechSource()})
    scan = library_tasks.register(jobs, landed=plex.landed, per_video=subtitles.index)
    subscription = subscription_tasks.register(jobs, download)
    return Background(jobs, download, scan, plex, subscription)


@dataclass  # not frozen: tests swap a part for a broken one
class Parts:
    settings: Settings
    sessions: SessionFactory
    notifier: Notifier
    metrics: Metrics
    limits: RateLimits
    auth: Auth
    http: httpx.AsyncClient
    plex_sign_in: PlexSignIn
    integrations: Integrations
    search_cache: StaleCache
    stream_access: StreamAccess
    jobs: Jobs
    plex: PlexRefreshes  # where files landed -> a Plex refresh, debounced
    scans: ScanRunner
    downloads: Downloads
    transcoding: Transcoding  # started by the server only (`Transcoding.start`)
    cursors: Cursors  # where pages of the whole library ended (keyset paging for Subsonic apps' syncs)
    bucket: Bucket | None  # the S3-compatible bucket media may be kept in (storage/), if configured
    artwork: Artwork  # the covers and thumbnails of this host, backed by the bucket when there is one
    remote_search: RemoteSearch  # YouTube and Dailymotion searched by words (discovery/)
    subscriptions: Subscriptions  # channels, playlists and podcast feeds followed (subscriptions/)


@asynccontextmanager
async def open_parts(settings: Settings, notifier: Notifier | None = None,
                     job_notifier: Callable[[], Notifier] | None = None, metrics: Metrics | None = None,
                     migrate: bool = True) -> AsyncIterator[Parts]:
    """The parts of a process on `settings`: the database migrated first (unless `migrate` is False: a
    server's workers, whose parent migrated), events to `notifier` (logged when None), the tasks' events
    made by `job_notifier`."""
    settings.ensure_dirs()
    if migrate:
        await upgrade_async(settings.db_url)
    engine = create_engine(settings.db_url, settings.database_busy_timeout_s)
    http = http_client(settings)
    try:
        # Every session carries the password hasher at the configured cost (accounts/passwords.py).
        sessions = Passwords.from_settings(settings).attach(create_session_factory(engine))
        parts = _assemble(settings, sessions, http, notifier or LogNotifier(), background(settings, job_notifier),
                          metrics or Metrics())
        try:
            yield parts
        finally:
            await parts.transcoding.close()
    finally:
        await http.aclose()
        await engine.dispose()


def _assemble(settings: Settings, sessions: SessionFactory, http: httpx.AsyncClient, notifier: Notifier,
              bg: Background, metrics: Metrics) -> Parts:
    signer = TokenSigner(settings.secret_key, settings.access_token_ttl_s, settings.media_token_ttl_s)
    limits = RateLimits(settings)
    auth = Auth(signer, settings.refresh_token_ttl_s, limits)
    transcoding = Transcoding(settings, Processes(settings.transcode_max))
    bucket = Bucket(settings) if settings.s3_bucket else None
    folders = bucket_folders(settings, bucket)
    transcoding_tasks.register(bg.jobs, transcoding)
    return Parts(
        settings=settings, sessions=sessions, notifier=notifier, metrics=metrics, limits=limits, auth=auth, http=http,
        plex_sign_in=plex_sign_in(settings, http, auth, limits),
        integrations=Integrations(http, secret_box(settings), settings),
        search_cache=StaleCache(settings.search_cache_ttl_s),
        stream_access=StreamAccess(sessions, signer, settings.library_dirs, folders, settings.s3_redirect),
        jobs=bg.jobs, plex=bg.plex,
        scans=ScanRunner(sessions, settings.library_dirs, settings.artwork_dir, notifier, landed=bg.plex.landed,
                         per_video=subtitles.index, task=bg.scan, bucket=folders),
        downloads=Downloads(settings, bg.download, limits, notifier),
        transcoding=transcoding, cursors=Cursors(), bucket=bucket, artwork=Artwork(settings.artwork_dir, bucket),
        remote_search=remote_search(settings, http, limits),
        subscriptions=Subscriptions(settings, bg.subscription),
    )
