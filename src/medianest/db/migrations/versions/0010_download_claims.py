"""download claims: which run of a download holds it

A worker that looks dead (no heartbeat: frozen, swapping, cut off from the database) may still be running.
When another worker takes the download back, the first must learn that it lost it, stop its yt-dlp and
leave the files to the new run; `claim` (a random token per claim) tells them apart.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('downloads') as batch:
        batch.add_column(sa.Column('claim', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('downloads') as batch:
        batch.drop_column('claim')
