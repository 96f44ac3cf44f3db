"""The audit log's response shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from medianest.audit.models import AuditEvent


class AuditEventOut(BaseModel):
    id: str
    at: datetime
    actor_id: str | None
    actor_name: str | None
    action: str
    target: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEventOut:
        return cls(id=str(row.id), at=row.at, actor_id=None if row.actor_id is None else str(row.actor_id),
                   actor_name=row.actor_name, action=row.action, target=row.target, ip=row.ip,
                   user_agent=row.user_agent, request_id=row.request_id, details=row.details or {})
