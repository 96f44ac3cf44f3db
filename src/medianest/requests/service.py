"""Media requests through Seerr: search (cached), request, follow, withdraw; and the periodic sync.

A request is made at Seerr first and kept here only once Seerr has it, so a failing Seerr leaves
nothing behind. Statuses are Seerr's, folded into one word (`local_status`).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.audit.service import record
from medianest.connections.clients import Integrations
from medianest.connections.models import ServiceConfig
from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.db.queries import count_rows
from medianest.errors import Conflict, DomainError, NotFound, UpstreamUnavailable
from medianest.events import REQUEST_UPDATED, Notifier
from medianest.integrations import seerr as s
from medianest.integrations.cache import StaleCache
from medianest.requests.models import APPROVED, AVAILABLE, DECLINED, FAILED, PENDING, PROCESSING, SETTLED, MediaRequest
from medianest.requests.schemas import RequestIn, RequestOut, SearchResultOut, poster_url
from medianest.security.limits import RateLimits

log = structlog.get_logger(__name__)
SearchCache = StaleCache[s.SearchPage]
_AVAILABILITY = {s.MEDIA_AVAILABLE: "available", s.MEDIA_PARTIAL: "partially_available",
                 s.MEDIA_PROCESSING: "processing", s.MEDIA_PENDING: "requested"}


def local_status(request_status: int, media_status: int | None) -> str:
    """Seerr's request status and its media's status, as the one status a user follows."""
    if request_status == s.REQUEST_DECLINED:
        return DECLINED
    if request_status == s.REQUEST_FAILED:
        return FAILED
    if media_status == s.MEDIA_AVAILABLE or request_status == s.REQUEST_COMPLETED:
        return AVAILABLE
    if request_status == s.REQUEST_APPROVED:
        return PROCESSING if media_status in (s.MEDIA_PROCESSING, s.MEDIA_PARTIAL) else APPROVED
    return PENDING


async def seerr_connection(session: AsyncSession) -> ServiceConfig:
    config = await session.scalar(select(ServiceConfig).where(ServiceConfig.kind == "seerr", ServiceConfig.enabled)
                                  .order_by(ServiceConfig.id).limit(1))
    if config is None:
        raise UpstreamUnavailable("Seerr", "not configured (add a seerr connection under /api/v1/services)")
    return config


async def search(session: AsyncSession, integrations: Integrations, cache: SearchCache, user: User, query: str,
                 page: int) -> tuple[s.SearchPage, list[SearchResultOut], bool]:
    """(Seerr's page, the results marked for this user, whether the page is a stale copy)."""
    config = await seerr_connection(session)
    key: Hashable = (config.id, query.strip().casefold(), page)
    found, stale = cache.fresh(key), False
    if found is None:
        try:
            found = await integrations.seerr(config).search(query.strip(), page)
            cache.put(key, found)
        except DomainError:
            found, stale = cache.stale(key), True
            if found is None:
                raise
    return found, await _mark(session, user, found.results), stale


async def _mark(session: AsyncSession, user: User, titles: list[s.Title]) -> list[SearchResultOut]:
    """Each title with its availability; a request made here counts before Seerr's copy catches up."""
    ids = [t.tmdb_id for t in titles]
    rows = (await session.scalars(select(MediaRequest).where(MediaRequest.tmdb_id.in_(ids),
                                                             MediaRequest.status.not_in((DECLINED, FAILED))))).all()
    requested = {(r.media_type, r.tmdb_id) for r in rows}
    mine = {(r.media_type, r.tmdb_id): str(r.id) for r in rows if r.user_id == user.id}
    return [SearchResultOut(media_type=t.media_type, tmdb_id=t.tmdb_id, title=t.title, year=t.year,
                            overview=t.overview, poster_path=t.poster_path, poster_url=poster_url(t.poster_path),
                            availability=_availability(t, (t.media_type, t.tmdb_id) in requested),
                            request_id=mine.get((t.media_type, t.tmdb_id)))
            for t in titles]


def _availability(title: s.Title, requested_here: bool) -> str:
    known = _AVAILABILITY.get(title.media_status or 0)
    return known or ("requested" if requested_here else "not_requested")


async def create(session: AsyncSession, integrations: Integrations, limits: RateLimits, notifier: Notifier,
                 user: User, new: RequestIn) -> MediaRequest:
    config = await seerr_connection(session)
    await _refuse_duplicate(session, user, new)
    await limits.hit("requests", str(user.id), "requests")  # only what would reach Seerr counts
    client = integrations.seerr(config)
    as_user = config.options.get("request_user_id")
    made = await client.request(new.media_type, new.tmdb_id, new.seasons if new.media_type == "tv" else None,
                                as_user if isinstance(as_user, int) else None)
    row = MediaRequest(user_id=user.id, service_id=config.id, seerr_id=made.id, media_type=new.media_type,
                       tmdb_id=new.tmdb_id, title=new.title, year=new.year, poster_path=new.poster_path,
                       seasons=new.seasons if new.media_type == "tv" else None,
                       status=local_status(made.request_status, made.media_status), synced_at=utcnow())
    session.add(row)
    try:
        await session.flush()
        record(session, "request.create", user, target=f"request:{row.id}", title=new.title, tmdb_id=new.tmdb_id)
        await session.commit()
    except Exception:
        await session.rollback()
        await _withdraw_quietly(client, made.id)  # no request at Seerr that nobody here can see
        raise
    await _announce(notifier, row)
    return row


async def _refuse_duplicate(session: AsyncSession, user: User, new: RequestIn) -> None:
    open_one = await session.scalar(select(MediaRequest.id).where(
        MediaRequest.user_id == user.id, MediaRequest.media_type == new.media_type,
        MediaRequest.tmdb_id == new.tmdb_id, MediaRequest.status.not_in(SETTLED)).limit(1))
    if open_one is not None:
        raise Conflict("you already have an open request for this title")


async def _withdraw_quietly(client: s.Seerr, seerr_id: int) -> None:
    try:
        await client.delete_request(seerr_id)
    except DomainError as exc:
        log.warning("could not withdraw a request at Seerr", seerr_id=seerr_id, error=exc.message)


def _visible(user: User) -> Select[Any]:
    query = select(MediaRequest)
    return query if user.is_admin else query.where(MediaRequest.user_id == user.id)


async def list_requests(session: AsyncSession, user: User, status: str | None, offset: int,
                        limit: int) -> tuple[list[MediaRequest], int]:
    query = _visible(user)
    if status:
        query = query.where(MediaRequest.status == status)
    total = await count_rows(session, query)
    rows = await session.scalars(query.order_by(MediaRequest.created_at.desc(), MediaRequest.id.desc())
                                 .offset(offset).limit(limit))
    return list(rows), total


async def get_request(session: AsyncSession, user: User, request_id: int) -> MediaRequest:
    row = await session.scalar(_visible(user).where(MediaRequest.id == request_id))
    if row is None:
        raise NotFound("request", request_id)
    return row


async def cancel(session: AsyncSession, integrations: Integrations, notifier: Notifier, user: User,
                 request_id: int) -> None:
    """Withdraw a pending request, here and at Seerr (first there: if Seerr fails, nothing changes)."""
    row = await get_request(session, user, request_id)
    if row.status != PENDING:
        raise Conflict(f"only pending requests can be canceled; this one is {row.status}")
    config = await session.get(ServiceConfig, row.service_id) if row.service_id else None
    if config is not None and row.seerr_id is not None:
        await integrations.seerr(config).delete_request(row.seerr_id)
    record(session, "request.cancel", user, target=f"request:{row.id}", title=row.title)
    await session.delete(row)
    await session.commit()
    await notifier.emit(REQUEST_UPDATED, {"id": str(row.id), "status": "canceled"}, f"user:{row.user_id}")


async def sync(sessions: SessionFactory, integrations: Integrations, notifier: Notifier) -> int:
    """Bring every open request's status up to date from Seerr; returns how many changed."""
    async with sessions() as session:
        rows = list((await session.scalars(select(MediaRequest).where(
            MediaRequest.status.not_in(SETTLED), MediaRequest.seerr_id.is_not(None),
            MediaRequest.service_id.is_not(None)))).all())
        configs = {c.id: c for c in (await session.scalars(select(ServiceConfig).where(
            ServiceConfig.id.in_({r.service_id for r in rows}), ServiceConfig.enabled))).all()}
        changed = [r for r in rows if r.service_id in configs and await _sync_one(integrations, configs, r)]
        await session.commit()
    for row in changed:
        await _announce(notifier, row)
    return len(changed)


async def _sync_one(integrations: Integrations, configs: dict[int, ServiceConfig], row: MediaRequest) -> bool:
    assert row.service_id is not None and row.seerr_id is not None
    try:
        found = await integrations.seerr(configs[row.service_id]).get_request(row.seerr_id)
    except DomainError as exc:
        log.info("request sync skipped", request_id=row.id, error=exc.message)
        return False
    status = DECLINED if found is None else local_status(found.request_status, found.media_status)
    row.synced_at = utcnow()
    if status == row.status:
        return False
    row.status, row.updated_at = status, utcnow()
    row.error = "removed at Seerr" if found is None else None
    return True


async def _announce(notifier: Notifier, row: MediaRequest) -> None:
    await notifier.emit(REQUEST_UPDATED, RequestOut.of(row).model_dump(mode="json"), f"user:{row.user_id}")
