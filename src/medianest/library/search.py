"""Full-text search over media: SQLite FTS5 (bm25) or PostgreSQL tsvector (ts_rank), prefix matching.

Both index `media.search_text`, which is already lower-cased and free of diacritics, and queries are
folded the same way, so "cafe elec" finds "Café Électrique" on either database.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, column, false, func, table, text

from medianest.library.models import Media
from medianest.library.probe import fold

MAX_TERMS = 16
_fts = table("media_fts", column("rowid"), column("rank"))


def terms(query: str) -> list[str]:
    """Words of a query, folded; punctuation and FTS operators are dropped, never interpreted."""
    return re.findall(r"[^\W_]+", fold(query))[:MAX_TERMS]


def apply(stmt: Select[Any], dialect: str, query: str) -> tuple[Select[Any], ColumnElement[Any] | None]:
    """Filter `stmt` (selecting from media) to matches; returns it and a relevance order (best first)."""
    words = terms(query)
    if not words:
        return stmt.where(false()), None
    if dialect == "sqlite":
        match = " ".join(f'"{w}"*' for w in words)
        stmt = stmt.join(_fts, _fts.c.rowid == Media.id).where(text("media_fts MATCH :fts_query").bindparams(
            fts_query=match))
        return stmt, _fts.c.rank.asc()
    tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in words))
    vector = func.to_tsvector("simple", Media.search_text)
    return stmt.where(vector.op("@@")(tsquery)), func.ts_rank(vector, tsquery).desc()
