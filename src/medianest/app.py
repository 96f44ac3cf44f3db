"""`create_app(settings)`: the ASGI application with routers, error handlers, middleware and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from medianest import __version__
from medianest.accounts.passwords import Passwords
from medianest.accounts.plex_pin import plex_sign_in
from medianest.accounts.routes import auth_router, users_router
from medianest.accounts.service import Auth
from medianest.accounts.tokens import TokenSigner
from medianest.api import errors, methods, openapi
from medianest.api.inputs import no_nul_in_url
from medianest.audit.routes import router as audit_router
from medianest.config import Settings
from medianest.db.engine import create_engine, create_session_factory
from medianest.db.migrate import upgrade_async
from medianest.downloads.routes import router as downloads_router
from medianest.downloads.running import downloads_running
from medianest.integrations.cache import StaleCache
from medianest.integrations.http import http_client
from medianest.library.routes import router as library_router
from medianest.library.scans import ScanRunner
from medianest.logs import configure as configure_logs
from medianest.meta.metrics import Metrics
from medianest.meta.requests import RequestObserver
from medianest.meta.routes import router as meta_router
from medianest.playback.routes import router as playback_router
from medianest.playlists.routes import router as playlists_router
from medianest.realtime.server import SocketNotifier, create_server
from medianest.realtime.server import asgi_app as socketio_app
from medianest.requests.routes import router as requests_router
from medianest.security.bodylimit import BodyLimit
from medianest.security.crypto import secret_box
from medianest.security.headers import SecurityHeaders
from medianest.security.limits import RateLimits
from medianest.security.proxies import ProxyHeaders
from medianest.security.timeout import RequestTimeout
from medianest.services.clients import Integrations
from medianest.services.connections import seed as seed_services
from medianest.services.routes import plex_router
from medianest.services.routes import router as services_router
from medianest.streaming.access import StreamAccess
from medianest.streaming.fastpath import StreamFastPath
from medianest.streaming.routes import router as streaming_router
from medianest.subtitles.routes import router as subtitles_router
from medianest.web import routes as web

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the app; all state lives on `app.state`, created in the lifespan from `settings`."""
    configure_logs(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_dirs()
        if settings.migrate_on_start:
            await upgrade_async(settings.db_url)
        engine = create_engine(settings.db_url, settings.database_busy_timeout_s)
        sessions = Passwords.from_settings(settings).attach(create_session_factory(engine))
        signer = TokenSigner(settings.secret_key, settings.access_token_ttl_s, settings.media_token_ttl_s)
        app.state.sessions = sessions
        app.state.notifier = SocketNotifier(sio)
        app.state.limits = RateLimits(settings)
        app.state.auth = Auth(signer, settings.refresh_token_ttl_s, app.state.limits)
        app.state.http = http_client(settings)
        app.state.plex_sign_in = plex_sign_in(settings, app.state.http, app.state.auth, app.state.limits)
        app.state.integrations = Integrations(app.state.http, secret_box(settings), settings)
        app.state.search_cache = StaleCache(settings.search_cache_ttl_s)
        await seed_services(sessions, app.state.integrations, settings)
        app.state.stream_access = StreamAccess(sessions, signer, settings.library_dirs)
        app.state.scans = ScanRunner(sessions, settings.library_dirs, settings.artwork_dir, app.state.notifier,
                                     landed=lambda s, folders: app.state.jobs.landed(s, folders))
        await app.state.scans.on_start()  # scans a dead process left running are marked interrupted
        if settings.scan_on_start:
            await app.state.scans.start(requested_by=None)
        async with downloads_running(app, settings, sessions), app.state.socket_guard.running(sessions):
            log.info("medianest ready", database="sqlite" if settings.is_sqlite else "postgresql",
                     media_dirs=[str(d) for d in settings.library_dirs], consumes_queue=settings.consumes_queue)
            try:
                yield
            finally:
                await app.state.scans.stop()
        await app.state.http.aclose()
        await engine.dispose()

    app = FastAPI(
        title="MediaNest", version=__version__, lifespan=lifespan,
        openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,  # web/ serves /api/docs, offline
        description="A self-hosted media hub. Authenticate with `Authorization: Bearer <access token>`.",
        dependencies=[Depends(no_nul_in_url)],
        # No OpenTelemetry here: skip FastAPI's per-request provider check.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    sio = create_server(settings, app.state)
    app.mount("/socket.io", socketio_app(sio))
    errors.install(app)
    methods.install(app)
    openapi.install(app)
    for router in (meta_router, auth_router, users_router, audit_router, library_router, streaming_router,
                   playback_router, playlists_router, downloads_router, services_router, plex_router,
                   requests_router, subtitles_router):
        app.include_router(router)
    web.install(app)
    _add_middleware(app, settings)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Innermost first. The fast path sits inside the request ids, metrics and security headers (so
    they see every request) but outside the limits that only API calls need."""
    app.add_middleware(methods.Methods)  # inside CORS: preflights get the CORS answer
    app.add_middleware(RequestTimeout, timeout_s=settings.request_timeout_s)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["*"], allow_headers=["Authorization", "X-Api-Key", "Content-Type", "Range"],
                           expose_headers=["X-Request-ID", "Retry-After", "Content-Range", "Accept-Ranges",
                                           "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
                           max_age=600)
    app.add_middleware(StreamFastPath)
    app.add_middleware(RequestObserver, metrics=app.state.metrics, access_log=settings.access_log,
                       security=SecurityHeaders(docs_page=web.docs_html(app)))
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeaders, trusted=settings.trusted_proxies)

