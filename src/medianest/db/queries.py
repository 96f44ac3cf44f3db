"""Query helpers shared by the services."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def count_rows(session: AsyncSession, stmt: Select) -> int:
    """How many rows `stmt` returns (for a page's `total`), ignoring its ORDER BY."""
    return await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
