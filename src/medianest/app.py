"""`create_app(settings)`: the ASGI application with routers, error handlers, middleware and lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

import structlog
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from medianest import __version__
from medianest.api import errors, methods, openapi
from medianest.api.bodylimit import BodyLimit
from medianest.api.deps import no_nul_in_url
from medianest.api.fastpath import StreamFastPath
from medianest.api.headers import SecurityHeaders
from medianest.api.observer import RequestObserver
from medianest.api.proxies import ProxyHeaders
from medianest.api.routes import ROUTERS
from medianest.api.timeout import RequestTimeout
from medianest.config import Settings
from medianest.connections.service import seed as seed_services
from medianest.events import LoopBridge
from medianest.logs import configure as configure_logs
from medianest.metrics import Metrics
from medianest.parts import Parts, open_parts
from medianest.realtime.server import SocketNotifier, create_server
from medianest.realtime.server import asgi_app as socketio_app
from medianest.subsonic.app import SubsonicApp
from medianest.web import routes as web

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the app; its `Parts` (medianest/parts.py) are made in the lifespan, on `app.state.parts`."""
    configure_logs(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier, loop = SocketNotifier(sio), asyncio.get_running_loop()
        async with open_parts(settings, notifier, job_notifier=lambda: LoopBridge(notifier, loop), metrics=metrics,
                              migrate=settings.migrate_on_start) as parts:
            app.state.parts = parts
            await _start(parts)
            consuming = parts.jobs.consuming(parts.sessions) if settings.consumes_queue else nullcontext()
            async with consuming, guard.running(parts.sessions), parts.jobs.keeping_house():
                log.info("medianest ready", database="sqlite" if settings.is_sqlite else "postgresql",
                         media_dirs=[str(d) for d in settings.library_dirs], consumes_queue=settings.consumes_queue)
                yield

    app = FastAPI(
        title="MediaNest", version=__version__, lifespan=lifespan,
        openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,  # web/ serves /api/docs, offline
        description="A self-hosted media hub. Authenticate with `Authorization: Bearer <access token>`.",
        dependencies=[Depends(no_nul_in_url)],
        # No OpenTelemetry here: skip FastAPI's per-request provider check.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    sio, guard = create_server(settings, lambda: parts_of(app))
    app.mount("/socket.io", socketio_app(sio))
    app.mount("/rest", SubsonicApp(lambda: parts_of(app)))
    errors.install(app)
    methods.install(app)
    openapi.install(app)
    for router in ROUTERS:
        app.include_router(router)
    web.install(app)
    _add_middleware(app, settings, metrics)
    return app


def parts_of(app: FastAPI) -> Parts:
    """The app's parts (made by its lifespan)."""
    parts: Parts = app.state.parts
    return parts


async def _start(parts: Parts) -> None:
    """What a serving process does once its parts exist: the configured service connections, and the
    scans a dead process left running marked interrupted (then, if configured, a scan starts)."""
    await seed_services(parts.sessions, parts.integrations, parts.settings)
    await parts.transcoding.start()
    await parts.scans.on_start()
    if parts.settings.scan_on_start:
        await parts.scans.start(requested_by=None)


def _add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Innermost first. The fast path sits inside the request ids, metrics and security headers (so
    they see every request) but outside the limits that only API calls need."""
    app.add_middleware(methods.Methods)  # inside CORS: preflights get the CORS answer
    app.add_middleware(RequestTimeout, timeout_s=settings.request_timeout_s)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["*"], allow_headers=["Authorization", "X-Api-Key", "Content-Type", "Range"],
                           expose_headers=["X-Request-ID", "Retry-After", "Content-Range", "Accept-Ranges",
                                           "X-Content-Duration", "RateLimit-Limit", "RateLimit-Remaining",
                                           "RateLimit-Reset"],
                           max_age=600)
    app.add_middleware(StreamFastPath)
    app.add_middleware(RequestObserver, metrics=metrics, access_log=settings.access_log,
                       security=SecurityHeaders(docs_page=web.docs_html(app)))
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeaders, trusted=settings.trusted_proxies)

