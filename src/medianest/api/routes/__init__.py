"""The HTTP face of each capability, one module per capability (`/api/v1/...`): thin routes that parse,
call the capability's service with parts from `api/deps.py`, and wrap the answer in the envelope."""

from __future__ import annotations

from fastapi import APIRouter

from medianest.api.routes import (
    accounts,
    audit,
    discovery,
    downloads,
    library,
    meta,
    playback,
    playlists,
    requests,
    services,
    speech,
    streaming,
    subscriptions,
    subtitles,
    transcoding,
)

ROUTERS: tuple[APIRouter, ...] = (
    meta.router, accounts.auth_router, accounts.users_router, audit.router, library.router, streaming.router,
    playback.router, playlists.router, downloads.router, services.router, services.plex_router, requests.router,
    subtitles.router, transcoding.router, discovery.router,
    subscriptions.router, subscriptions.feeds_router,
    speech.router,
)
