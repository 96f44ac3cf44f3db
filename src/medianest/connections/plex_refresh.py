"""Plex Media Server: its libraries, and telling it to rescan the folders where files landed.

A finished download or a scan that changed something asks for a refresh of its folders
(`request_refresh`); the requests are kept in `plex_refreshes`, and once none has come for the
debounce time (`run_refreshes`, a delayed job) each Plex library covering them is refreshed once, at
the deepest folder covering all of its changes. A Plex that fails is logged, never passed on: the
download or scan that asked has already succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.connections.clients import Integrations
from medianest.connections.models import PlexRefresh, ServiceConfig
from medianest.connections.schemas import PlexLibraryOut
from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.errors import DomainError, UpstreamUnavailable
from medianest.integrations.plex_server import Library

log = structlog.get_logger(__name__)


async def plex_connections(session: AsyncSession) -> list[ServiceConfig]:
    return list((await session.scalars(select(ServiceConfig).where(ServiceConfig.kind == "plex",
                                                                   ServiceConfig.enabled))).all())


async def libraries(session: AsyncSession, integrations: Integrations) -> list[PlexLibraryOut]:
    """The libraries of every enabled Plex connection (503 when none is configured)."""
    configs = await plex_connections(session)
    if not configs:
        raise UpstreamUnavailable("Plex", "not configured (add a plex connection under /api/v1/services)")
    found: list[PlexLibraryOut] = []
    for config in configs:
        found += [PlexLibraryOut(key=lib.key, title=lib.title, type=lib.type, paths=lib.paths,
                                 service_id=str(config.id)) for lib in await integrations.plex(config).libraries()]
    return found


async def request_refresh(sessions: SessionFactory, folders: Iterable[Path]) -> bool:
    """Note folders for Plex to rescan; False (nothing noted) when no Plex connection is enabled."""
    async with sessions() as session:
        if not await plex_connections(session):
            return False
        for folder in {str(f) for f in folders}:
            row = await session.scalar(select(PlexRefresh).where(PlexRefresh.folder == folder))
            if row is None:
                session.add(PlexRefresh(folder=folder, requested_at=utcnow()))
            else:
                row.requested_at = utcnow()
            try:
                await session.commit()
            except IntegrityError:  # noted by another process a moment ago: that request stands for ours
                await session.rollback()
    return True


async def run_refreshes(sessions: SessionFactory, integrations: Integrations, debounce_s: float) -> float | None:
    """Refresh what was asked for once the requests have been quiet for `debounce_s`. Returns the
    seconds to wait before trying again while they are not, None when nothing is left."""
    async with sessions() as session:
        rows = list((await session.scalars(select(PlexRefresh))).all())
        if not rows:
            return None
        newest = max(r.requested_at for r in rows)
        wait = (newest + timedelta(seconds=debounce_s) - utcnow()).total_seconds()
        if wait > 0:
            return wait
        # Taken in one statement, so a second runner finds nothing; a request noted meanwhile stays.
        taken = await session.execute(delete(PlexRefresh).where(PlexRefresh.requested_at <= newest)
                                      .returning(PlexRefresh.folder))
        folders = [Path(f) for f in taken.scalars().all()]
        configs = await plex_connections(session)
        await session.commit()
    for config in configs:
        await _refresh(integrations, config, folders)
    return None


async def _refresh(integrations: Integrations, config: ServiceConfig, folders: list[Path]) -> None:
    client = integrations.plex(config)
    try:
        plan = plan_refreshes(folders, await client.libraries(), config.options.get("path_map"))
        for key, path in plan:
            await client.refresh(key, path)
        log.info("plex refreshed", service=config.name, sections=plan)
    except DomainError as exc:
        log.warning("plex refresh failed", service=config.name, error=exc.message)


def plan_refreshes(folders: list[Path], libraries: list[Library], path_map: Any = None) -> list[tuple[str, str | None]]:
    """(section key, path to rescan) per library that covers any of `folders`: the deepest folder
    covering all of its changes, or no path (the whole library) when they span several of its folders."""
    seen = [_as_plex_sees(f, path_map) for f in folders]
    plan: list[tuple[str, str | None]] = []
    for lib in libraries:
        hits = {loc: os.path.commonpath(paths) for loc in lib.paths if (paths := _within(loc, seen))}
        if len(hits) == 1:
            plan.append((lib.key, next(iter(hits.values()))))
        elif hits:
            plan.append((lib.key, None))
    return plan


def _within(location: str, folders: list[str]) -> list[str]:
    """The parts of `location` that changed: folders inside it, or the location itself when a changed
    folder contains it (a whole media folder was rescanned)."""
    loc = location.rstrip("/") or "/"
    inside = [f for f in folders if f == loc or f.startswith(loc.rstrip("/") + "/")]
    around = [loc for f in folders if loc.startswith(f.rstrip("/") + "/")]
    return inside + around


def _as_plex_sees(folder: Path, path_map: Any) -> str:
    """Our path as Plex knows it (`path_map` {our prefix: Plex's prefix}, for Plex in a container)."""
    text = str(folder)
    if isinstance(path_map, dict):
        for ours, theirs in sorted(path_map.items(), key=lambda kv: -len(str(kv[0]))):
            ours = str(ours).rstrip("/")
            if text == ours or text.startswith(ours + "/"):
                return str(theirs).rstrip("/") + text[len(ours):]
    return text
