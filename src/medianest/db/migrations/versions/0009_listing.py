"""listing: partial indexes of (sort key, id) over the live items for each sort of the library listing, and a
generation counter that every transaction writing media bumps

The listing (library/listing.py) seeks through these indexes instead of reading past every item before its
page, and remembers totals and positions per generation: a write in any process makes every process count
again. On SQLite a trigger per row bumps the counter (one writer at a time: nothing to wait for). On
PostgreSQL a deferred trigger bumps it once per transaction, at commit: the counter row is locked only while
a transaction commits, never while it still has rows of media to lock, so two writers cannot deadlock over it.

(Like the search index's, these triggers belong to the media table: a batch migration that rebuilds media on
SQLite must create them again.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = 'deleted_at IS NULL'
SORT_KEYS = {'title': 'title', 'artist': 'artist', 'album': 'album', 'added_at': 'added_at', 'duration': 'duration_s'}

SQLITE_TRIGGERS = [
    """CREATE TRIGGER media_generation_ai AFTER INSERT ON media BEGIN
       UPDATE media_generation SET generation = generation + 1 WHERE id = 1; END""",
    """CREATE TRIGGER media_generation_au AFTER UPDATE ON media BEGIN
       UPDATE media_generation SET generation = generation + 1 WHERE id = 1; END""",
    """CREATE TRIGGER media_generation_ad AFTER DELETE ON media BEGIN
       UPDATE media_generation SET generation = generation + 1 WHERE id = 1; END""",
]
POSTGRESQL_TRIGGER = [
    """CREATE FUNCTION media_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Once per transaction: the rows after the first see their own transaction's update.
        UPDATE media_generation SET generation = generation + 1, xact = txid_current()
         WHERE id = 1 AND xact IS DISTINCT FROM txid_current();
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER media_generation AFTER INSERT OR UPDATE OR DELETE ON media
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION media_generation_bump()""",
]


def upgrade() -> None:
    for sort, column in SORT_KEYS.items():
        op.create_index(f'ix_media_live_{sort}', 'media', [column, 'id'], sqlite_where=sa.text(LIVE),
                        postgresql_where=sa.text(LIVE))
    op.create_table('media_generation',
                    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('generation', sa.BigInteger(), nullable=False),
                    sa.Column('xact', sa.BigInteger(), nullable=True),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_generation')))
    op.execute("INSERT INTO media_generation (id, generation) VALUES (1, 0)")
    for statement in SQLITE_TRIGGERS if op.get_bind().dialect.name == 'sqlite' else POSTGRESQL_TRIGGER:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('ai', 'au', 'ad'):
            op.execute(f"DROP TRIGGER IF EXISTS media_generation_{name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS media_generation ON media")
        op.execute("DROP FUNCTION IF EXISTS media_generation_bump()")
    op.drop_table('media_generation')
    for sort in SORT_KEYS:
        op.drop_index(f'ix_media_live_{sort}', table_name='media')
