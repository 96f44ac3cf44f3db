"""`GET /api/v1/audit` (admin): sign-ins and admin actions, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from medianest.api.deps import AdminUser, PageDep, SessionDep
from medianest.api.envelope import Page, errors, page
from medianest.audit import service
from medianest.audit.schemas import AuditEventOut

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=errors(401, 403))


@router.get("", responses=errors(422))
async def list_audit_events(
    _: AdminUser, session: SessionDep, paging: PageDep,
    action: Annotated[str | None, Query(max_length=64, description='exact, or a prefix ending in "."')] = None,
    actor_id: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    since: datetime | None = None,
) -> Page[AuditEventOut]:
    actor = int(actor_id) if actor_id is not None else None
    rows, total = await service.list_events(session, paging.offset, paging.per_page, action, actor, since)
    return page([AuditEventOut.of(r) for r in rows], page=paging.page, per_page=paging.per_page, total=total)
