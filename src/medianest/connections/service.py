"""Admin management of service connections: list, add, change, remove, test; and seeding them from
MEDIANEST_* variables at start. Secrets (and SECRET_OPTIONS such as an OpenSubtitles password) are
sealed before they reach the database and never leave it except to call the service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.models import User
from medianest.audit.service import record
from medianest.config import Settings
from medianest.connections.clients import SECRET_OPTIONS, Integrations
from medianest.connections.models import UNKNOWN, ServiceConfig
from medianest.connections.probes import Probe, probe
from medianest.connections.schemas import ServiceIn, ServiceOut, ServicePatch
from medianest.db.base import utcnow
from medianest.db.engine import SessionFactory
from medianest.errors import Conflict, NotFound


async def list_services(session: AsyncSession, offset: int, limit: int) -> tuple[list[ServiceConfig], int]:
    total = await session.scalar(select(func.count()).select_from(ServiceConfig)) or 0
    rows = await session.scalars(select(ServiceConfig).order_by(ServiceConfig.id).offset(offset).limit(limit))
    return list(rows), total


async def get_service(session: AsyncSession, service_id: int) -> ServiceConfig:
    config = await session.get(ServiceConfig, service_id)
    if config is None:
        raise NotFound("service", service_id)
    return config


def describe(integrations: Integrations, config: ServiceConfig) -> ServiceOut:
    return ServiceOut.of(config, set(integrations.credentials(config)))


async def add_service(session: AsyncSession, integrations: Integrations, actor: User | None,
                      new: ServiceIn, seeded: bool = False) -> ServiceConfig:
    options, sealed = _split_options(new.options)
    config = ServiceConfig(kind=new.kind, name=new.name, url=new.url, options=options, enabled=new.enabled,
                           seeded=seeded, status=UNKNOWN)
    session.add(config)
    await _flush(session, new.name)  # the id is the sealing context
    integrations.seal(config, {"secret": new.secret or "", **sealed})
    record(session, "service.create", actor, target=f"service:{config.id}", kind=new.kind, name=new.name,
           url=new.url)
    await session.commit()
    return config


async def patch_service(session: AsyncSession, integrations: Integrations, actor: User | None, service_id: int,
                        patch: ServicePatch) -> ServiceConfig:
    config = await get_service(session, service_id)
    changes = patch.model_dump(exclude_none=True)
    values = integrations.credentials(config)
    if patch.secret is not None:
        values["secret"] = patch.secret
        changes["secret"] = "changed" if patch.secret else "removed"  # the trail never holds it
    if patch.options is not None:
        config.options, sealed = _split_options(patch.options)
        values.update(sealed)
        changes["options"] = sorted(patch.options)
    for field in ("name", "url", "enabled"):
        if getattr(patch, field) is not None:
            setattr(config, field, getattr(patch, field))
    integrations.seal(config, values)
    config.updated_at, config.next_check_at = utcnow(), None  # check the new settings at the next round
    record(session, "service.update", actor, target=f"service:{config.id}", **changes)
    await _flush(session, config.name)
    await session.commit()
    integrations.forget(config.id)
    return config


async def delete_service(session: AsyncSession, integrations: Integrations, actor: User | None,
                         service_id: int) -> None:
    config = await get_service(session, service_id)
    record(session, "service.delete", actor, target=f"service:{config.id}", name=config.name)
    await session.delete(config)
    await session.commit()
    integrations.forget(service_id)


async def test_service(session: AsyncSession, integrations: Integrations, service_id: int) -> Probe:
    """Ask the service now, past an open breaker (the admin is asking because something changed)."""
    config = await get_service(session, service_id)
    integrations.forget(config.id)
    return await probe(integrations, config, thorough=True)


def _split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(plain options, credential options to seal)."""
    sealed = {k: "" if v is None else str(v) for k, v in options.items() if k in SECRET_OPTIONS}  # "": remove
    return {k: v for k, v in options.items() if k not in SECRET_OPTIONS}, sealed


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a service named {name!r} already exists") from None


def seeds(settings: Settings) -> list[ServiceIn]:
    """The connections MEDIANEST_* variables describe (each needs its URL, or API key for OpenSubtitles)."""
    found: list[ServiceIn] = []
    if settings.plex_url:
        found.append(ServiceIn(kind="plex", name="Plex", url=settings.plex_url, secret=_plain(settings.plex_token)))
    if settings.seerr_url:
        found.append(ServiceIn(kind="seerr", name="Seerr", url=settings.seerr_url,
                               secret=_plain(settings.seerr_api_key)))
    if settings.uptime_kuma_url:
        found.append(ServiceIn(kind="uptime_kuma", name="Uptime Kuma", url=settings.uptime_kuma_url,
                               options={"slug": settings.uptime_kuma_slug or "default"}))
    if settings.opensubtitles_api_key:
        options: dict[str, Any] = {"password": _plain(settings.opensubtitles_password) or ""}
        if settings.opensubtitles_username:
            options["username"] = settings.opensubtitles_username
        found.append(ServiceIn(kind="opensubtitles", name="OpenSubtitles", url=settings.opensubtitles_url,
                               secret=_plain(settings.opensubtitles_api_key), options=options))
    return found


async def seed(sessions: SessionFactory, integrations: Integrations, settings: Settings) -> None:
    """Create each seeded connection, or bring an earlier seeded one up to date with the variables
    (a connection an admin added by hand under the same name is left alone)."""
    for new in seeds(settings):
        async with sessions() as session:
            config = await session.scalar(select(ServiceConfig).where(ServiceConfig.name == new.name))
            try:
                if config is None:
                    await add_service(session, integrations, None, new, seeded=True)
                elif config.seeded and _differs(integrations, config, new):
                    patch = ServicePatch(url=new.url, secret=new.secret or "", options=new.options)
                    await patch_service(session, integrations, None, config.id, patch)
            except Conflict:
                pass  # another server process seeded it a moment ago


def _differs(integrations: Integrations, config: ServiceConfig, new: ServiceIn) -> bool:
    plain, sealed = _split_options(new.options)
    wanted = {k: v for k, v in {"secret": new.secret or "", **sealed}.items() if v}
    return config.url != new.url or config.options != plain or integrations.credentials(config) != wanted


def _plain(secret: Any) -> str | None:
    return secret.get_secret_value() if secret is not None else None
