"""objects: the S3 ETag of an item kept in a bucket, and the key a download's file goes to

A bucket's listing gives each object's size, last-modified time and ETag; a rescan compares all three
with the index (an object rewritten within the same second with the same size still changes its ETag),
and a stream asks the bucket for exactly the version it announced (If-Match). Local files have none.
A download item's `target` is its object's key, chosen once before the upload: a run killed after the
upload and taken over by another worker uploads to the same key, so no second object is left behind.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): a batch copy of `media` would rebuild its search triggers.
    op.add_column('media', sa.Column('etag', sa.String(length=200), nullable=True))
    op.add_column('download_items', sa.Column('target', sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place, as PostgreSQL does (a batch copy would lose the triggers).
    op.execute('ALTER TABLE media DROP COLUMN etag')
    op.execute('ALTER TABLE download_items DROP COLUMN target')
