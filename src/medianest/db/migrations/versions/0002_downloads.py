"""downloads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Downloads and their items, and an index to find a source (site, id) already in the library.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('downloads',
    sa.Column('user_id', ID, nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('quality', sa.String(length=8), nullable=False),
    sa.Column('audio_format', sa.String(length=8), nullable=True),
    sa.Column('audio_quality', sa.String(length=8), nullable=True),
    sa.Column('playlist_limit', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=True),
    sa.Column('title', sa.String(length=1024), nullable=True),
    sa.Column('percent', sa.Float(), nullable=False),
    sa.Column('downloaded_bytes', sa.BigInteger(), nullable=False),
    sa.Column('total_bytes', sa.BigInteger(), nullable=True),
    sa.Column('speed_bps', sa.Float(), nullable=True),
    sa.Column('eta_s', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('started_at', WHEN, nullable=True),
    sa.Column('finished_at', WHEN, nullable=True),
    sa.Column('heartbeat_at', WHEN, nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_downloads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_downloads'))
    )
    op.create_index('ix_downloads_user_status', 'downloads', ['user_id', 'status'], unique=False)
    op.create_table('download_items',
    sa.Column('download_id', ID, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=1024), nullable=True),
    sa.Column('source_site', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=255), nullable=True),
    sa.Column('media_id', ID, nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['download_id'], ['downloads.id'], name=op.f('fk_download_items_download_id_downloads'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_download_items_media_id_media'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_download_items'))
    )
    op.create_index(op.f('ix_download_items_download_id'), 'download_items', ['download_id'], unique=False)
    op.create_index('ix_media_source', 'media', ['source_site', 'source_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_media_source', table_name='media')
    op.drop_index(op.f('ix_download_items_download_id'), table_name='download_items')
    op.drop_table('download_items')
    op.drop_index('ix_downloads_user_status', table_name='downloads')
    op.drop_table('downloads')
