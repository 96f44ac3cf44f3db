"""`record` an audited event inside the caller's transaction; `list_events` for the admin view.

An event is added to the session of the action it describes, so both are committed together: there
is no trail of an action that was rolled back, and no action without its trail. The client address
and request id come from the request being handled (`medianest.context`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.audit.models import AuditEvent
from medianest.context import client_ip, request_id, user_agent
from medianest.db.queries import count_rows


class Actor(Protocol):
    """Who did it: a user (accounts' `User`), named here by shape so the audit log sits below accounts."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


def record(session: AsyncSession, action: str, actor: Actor | None, target: str | None = None,
           **details: Any) -> None:
    """Add an event to `session`; it is written when the caller commits. Never pass secrets in `details`."""
    session.add(AuditEvent(actor_id=actor.id if actor else None, actor_name=actor.username if actor else None,
                           action=action, target=target, ip=client_ip(), user_agent=user_agent(),
                           request_id=request_id.get(), details=details))


async def list_events(session: AsyncSession, offset: int, limit: int, action: str | None = None,
                      actor_id: int | None = None, since: datetime | None = None,
                      ) -> tuple[list[AuditEvent], int]:
    """Newest first; `action` matches exactly or, ending with ".", as a prefix ("user." for all user events)."""
    query: Select[Any] = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True) if action.endswith(".")
                            else AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    total = await count_rows(session, query)
    rows = await session.scalars(query.order_by(AuditEvent.id.desc()).offset(offset).limit(limit))
    return list(rows), total
