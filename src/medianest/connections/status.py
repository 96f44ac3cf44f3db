"""The status board: periodic checks of every enabled connection, Uptime Kuma monitors imported from its
status page, the history they leave, and uptime computed from that history.

Uptime over a window is the share of checks in it that found the service up or degraded (it answered);
checks that could not tell (unknown, Kuma's maintenance) count for neither side. None without checks.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.connections.clients import Integrations, kuma_slug
from medianest.connections.models import DEGRADED, DOWN, UNKNOWN, UP, ServiceCheck, ServiceConfig, StatusMonitor
from medianest.connections.probes import Probe, probe
from medianest.connections.schemas import BoardEntry
from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.errors import DomainError
from medianest.events import STATUS_UPDATE, Notifier
from medianest.integrations.uptime_kuma import Monitor
from medianest.text import clean_line

log = structlog.get_logger(__name__)
DAY, WEEK = timedelta(days=1), timedelta(days=7)
# History older than the longest window (plus a day's margin) is deleted by the checks themselves.
KEEP_HISTORY = WEEK + DAY
STATUS_ROOM = "status"


async def check_due(sessions: SessionFactory, integrations: Integrations, notifier: Notifier,
                    interval_s: float) -> list[int]:
    """Check every enabled connection whose turn it is. Each is claimed first (its next turn moved on in
    one statement), so several schedulers - server processes, workers - check it once a round."""
    now = utcnow()
    async with sessions() as session:
        due = list(await session.scalars(select(ServiceConfig.id).where(
            ServiceConfig.enabled, or_(ServiceConfig.next_check_at.is_(None), ServiceConfig.next_check_at <= now))))
        # a little early, so a round that starts a second sooner than the last still finds it due
        claimed = [i for i in due if await _claim(session, i, now, now + timedelta(seconds=interval_s * 0.9))]
        await session.commit()
    await asyncio.gather(*(check_one(sessions, integrations, notifier, i) for i in claimed))
    await prune(sessions)
    return claimed


async def _claim(session: AsyncSession, service_id: int, now: datetime, until: datetime) -> bool:
    result = await session.execute(update(ServiceConfig).where(
        ServiceConfig.id == service_id,
        or_(ServiceConfig.next_check_at.is_(None), ServiceConfig.next_check_at <= now)).values(next_check_at=until))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def check_one(sessions: SessionFactory, integrations: Integrations, notifier: Notifier,
                    service_id: int) -> Probe | None:
    """Probe one connection, record the outcome; an Uptime Kuma page also has its monitors imported."""
    async with sessions() as session:
        config = await session.get(ServiceConfig, service_id)
        if config is None:
            return None
        monitors: list[Monitor] = []
        if config.kind == "uptime_kuma":
            result, monitors = await _kuma_probe(integrations, config)
        else:
            result = await probe(integrations, config)
        changed = await record(session, config, result)
        moved = await import_monitors(session, config, monitors)
        await session.commit()
        if changed:
            await notifier.emit(STATUS_UPDATE, (await _entry(session, config)).model_dump(mode="json"), STATUS_ROOM)
        for monitor in moved:
            await notifier.emit(STATUS_UPDATE, (await _monitor_entry(session, monitor)).model_dump(mode="json"),
                                STATUS_ROOM)
    return result


async def _kuma_probe(integrations: Integrations, config: ServiceConfig) -> tuple[Probe, list[Monitor]]:
    start = time.perf_counter()
    try:
        monitors = await integrations.kuma(config).monitors(kuma_slug(config))
    except DomainError as exc:
        return Probe(DOWN, None, exc.message), []
    ms = round((time.perf_counter() - start) * 1000, 1)
    return Probe(UP, ms, f"status page {kuma_slug(config)!r}: {len(monitors)} monitors"), monitors


async def record(session: AsyncSession, config: ServiceConfig, result: Probe) -> bool:
    """Keep the outcome on the connection and in the history; True when the status changed."""
    now = utcnow()
    changed = config.status != result.status
    config.status, config.response_ms, config.detail, config.checked_at = (
        result.status, result.response_ms, clean_line(result.detail)[:500], now)  # names other services sent
    session.add(ServiceCheck(service_id=config.id, checked_at=now, status=result.status,
                             response_ms=result.response_ms))
    if changed:
        log.info("service status", service=config.name, status=result.status, detail=result.detail)
    return changed


async def import_monitors(session: AsyncSession, config: ServiceConfig, monitors: list[Monitor]) -> list[StatusMonitor]:
    """Update each Kuma monitor's row and add its heartbeats not imported yet to the history; monitors
    taken off the page go. Returns the monitors whose status changed."""
    if config.kind != "uptime_kuma" or (not monitors and config.status != UP):
        return []  # the page could not be read: keep what the board last knew
    rows = {m.monitor_id: m for m in await session.scalars(
        select(StatusMonitor).where(StatusMonitor.service_id == config.id))}
    moved = [row for monitor in monitors if (row := await _import_one(session, config.id, rows, monitor))]
    listed = {m.id for m in monitors}
    for monitor_id, row in rows.items():
        if monitor_id not in listed:
            await session.delete(row)
    return moved


async def _import_one(session: AsyncSession, service_id: int, rows: dict[int, StatusMonitor],
                      monitor: Monitor) -> StatusMonitor | None:
    row = rows.get(monitor.id) or StatusMonitor(service_id=service_id, monitor_id=monitor.id, status=UNKNOWN)
    session.add(row)
    last = monitor.beats[-1] if monitor.beats else None
    before = row.status
    row.name, row.group_name, row.uptime_24h = monitor.name, monitor.group, monitor.uptime_24h
    row.status = last.status if last else UNKNOWN
    row.ping_ms, row.checked_at = (last.ping_ms, last.at) if last else (None, None)
    newest = await session.scalar(select(func.max(ServiceCheck.checked_at)).where(
        ServiceCheck.service_id == service_id, ServiceCheck.monitor_id == monitor.id))
    session.add_all(ServiceCheck(service_id=service_id, monitor_id=monitor.id, checked_at=b.at, status=b.status,
                                 response_ms=b.ping_ms) for b in monitor.beats if newest is None or b.at > newest)
    await session.flush()
    return row if before != row.status else None


async def prune(sessions: SessionFactory) -> None:
    async with sessions() as session:
        await session.execute(delete(ServiceCheck).where(ServiceCheck.checked_at < utcnow() - KEEP_HISTORY))
        await session.commit()


async def uptimes(session: AsyncSession, service_id: int | None = None) -> dict[tuple[int, int | None], dict[str, Any]]:
    """{(service id, monitor id or None): {"24h": fraction or None, "7d": ...}} from the history."""
    now = utcnow()
    answered = ServiceCheck.status.in_((UP, DEGRADED))
    known = ServiceCheck.status.in_((UP, DEGRADED, DOWN))
    day = ServiceCheck.checked_at >= now - DAY
    query = select(
        ServiceCheck.service_id, ServiceCheck.monitor_id,
        func.sum(case((and_(answered, day), 1), else_=0)), func.sum(case((and_(known, day), 1), else_=0)),
        func.sum(case((answered, 1), else_=0)), func.sum(case((known, 1), else_=0)),
    ).where(ServiceCheck.checked_at >= now - WEEK).group_by(ServiceCheck.service_id, ServiceCheck.monitor_id)
    if service_id is not None:
        query = query.where(ServiceCheck.service_id == service_id)
    return {(row[0], row[1]): {"24h": _share(row[2], row[3]), "7d": _share(row[4], row[5])}
            for row in await session.execute(query)}


def _share(up: int | None, total: int | None) -> float | None:
    return round(int(up or 0) / int(total), 4) if total else None


async def board(session: AsyncSession) -> list[BoardEntry]:
    """Every enabled connection, then the monitors its Kuma pages list, as last checked."""
    shares = await uptimes(session)
    configs = (await session.scalars(select(ServiceConfig).where(ServiceConfig.enabled)
                                     .order_by(ServiceConfig.name))).all()
    entries = [_config_entry(c, shares.get((c.id, None), {})) for c in configs]
    enabled = [c.id for c in configs if c.kind == "uptime_kuma"]
    monitors = (await session.scalars(select(StatusMonitor).where(StatusMonitor.service_id.in_(enabled))
                                      .order_by(StatusMonitor.service_id, StatusMonitor.group_name,
                                                StatusMonitor.name))).all()
    return entries + [_monitor_board(m, shares.get((m.service_id, m.monitor_id), {})) for m in monitors]


async def _entry(session: AsyncSession, config: ServiceConfig) -> BoardEntry:
    return _config_entry(config, (await uptimes(session, config.id)).get((config.id, None), {}))


async def _monitor_entry(session: AsyncSession, monitor: StatusMonitor) -> BoardEntry:
    shares = await uptimes(session, monitor.service_id)
    return _monitor_board(monitor, shares.get((monitor.service_id, monitor.monitor_id), {}))


def _config_entry(config: ServiceConfig, share: dict[str, Any]) -> BoardEntry:
    return BoardEntry(id=str(config.id), name=config.name, kind=config.kind, status=config.status,
                      response_ms=config.response_ms, checked_at=config.checked_at,
                      uptime_24h=share.get("24h"), uptime_7d=share.get("7d"))


def _monitor_board(monitor: StatusMonitor, share: dict[str, Any]) -> BoardEntry:
    # Kuma's own 24-hour figure counts every beat it made; ours only those its page still listed.
    day = monitor.uptime_24h if monitor.uptime_24h is not None else share.get("24h")
    return BoardEntry(id=f"{monitor.service_id}:{monitor.monitor_id}", name=monitor.name,
                      kind="uptime_kuma_monitor", group=monitor.group_name, status=monitor.status,
                      response_ms=monitor.ping_ms, checked_at=monitor.checked_at, uptime_24h=day,
                      uptime_7d=share.get("7d"))
