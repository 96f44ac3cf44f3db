"""search words: the indexed text holds words only, so punctuation splits them on PostgreSQL too

PostgreSQL's parser read "mpeg-4" as "mpeg" and the number "-4", and "mr.bungle" as a host name: searching
"4" or "bungle" found nothing there (SQLite's FTS5 already split on punctuation). The text each item is
indexed by is written again, as the words of its title, artists, album and genre.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
media = sa.table('media', sa.column('id', sa.Integer), sa.column('title', sa.Text), sa.column('artist', sa.Text),
                 sa.column('album', sa.Text), sa.column('album_artist', sa.Text), sa.column('genre', sa.Text),
                 sa.column('search_text', sa.Text))


def _words(*parts: str | None) -> str:
    # A copy of library.probe.search_text as it is now: a migration must not change when the app does.
    text = unicodedata.normalize("NFKD", " ".join(p for p in parts if p))
    folded = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.findall(r"[^\W_]+", folded))


def upgrade() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(media.c.id, media.c.title, media.c.artist, media.c.album, media.c.album_artist,
                                      media.c.genre).where(media.c.id > last).order_by(media.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            bind.execute(media.update().where(media.c.id == row.id).values(
                search_text=_words(row.title, row.artist, row.album, row.album_artist, row.genre)))
        last = rows[-1].id


def downgrade() -> None:
    pass  # the words-only text is still text the older version searches
