"""integrations: services, status history, requests, subtitles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('plex_refreshes',
    sa.Column('folder', sa.Text(), nullable=False),
    sa.Column('requested_at', WHEN, nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plex_refreshes')),
    sa.UniqueConstraint('folder', name=op.f('uq_plex_refreshes_folder'))
    )
    op.create_table('service_configs',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('secret', sa.LargeBinary(), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('seeded', sa.Boolean(), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_ms', sa.Float(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('checked_at', WHEN, nullable=True),
    sa.Column('next_check_at', WHEN, nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_configs')),
    sa.UniqueConstraint('name', name=op.f('uq_service_configs_name')),
    sqlite_autoincrement=True
    )
    op.create_table('media_requests',
    sa.Column('user_id', ID, nullable=False),
    sa.Column('service_id', ID, nullable=True),
    sa.Column('seerr_id', sa.Integer(), nullable=True),
    sa.Column('media_type', sa.String(length=8), nullable=False),
    sa.Column('tmdb_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=1024), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('poster_path', sa.String(length=255), nullable=True),
    sa.Column('seasons', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.Column('synced_at', WHEN, nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service_configs.id'], name=op.f('fk_media_requests_service_id_service_configs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_media_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_requests'))
    )
    with op.batch_alter_table('media_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_requests_seerr_id'), ['seerr_id'], unique=False)
        batch_op.create_index('ix_media_requests_user_status', ['user_id', 'status'], unique=False)

    op.create_table('service_checks',
    sa.Column('service_id', ID, nullable=False),
    sa.Column('monitor_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', WHEN, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_ms', sa.Float(), nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service_configs.id'], name=op.f('fk_service_checks_service_id_service_configs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_checks'))
    )
    with op.batch_alter_table('service_checks', schema=None) as batch_op:
        batch_op.create_index('ix_service_checks_service_at', ['service_id', 'monitor_id', 'checked_at'], unique=False)

    op.create_table('status_monitors',
    sa.Column('service_id', ID, nullable=False),
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('group_name', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ping_ms', sa.Float(), nullable=True),
    sa.Column('uptime_24h', sa.Float(), nullable=True),
    sa.Column('checked_at', WHEN, nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service_configs.id'], name=op.f('fk_status_monitors_service_id_service_configs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_monitors')),
    sa.UniqueConstraint('service_id', 'monitor_id', name=op.f('uq_status_monitors_service_id'))
    )
    op.create_table('subtitles',
    sa.Column('media_id', ID, nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('path', sa.Text(), nullable=True),
    sa.Column('stream_index', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('forced', sa.Boolean(), nullable=False),
    sa.Column('hearing_impaired', sa.Boolean(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=True),
    sa.Column('added_at', WHEN, nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_subtitles_media_id_media'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subtitles')),
    sa.UniqueConstraint('media_id', 'path', name='uq_subtitles_media_path'),
    sa.UniqueConstraint('media_id', 'stream_index', name='uq_subtitles_media_stream')
    )
    with op.batch_alter_table('subtitles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subtitles_media_id'), ['media_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subtitles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subtitles_media_id'))

    op.drop_table('subtitles')
    op.drop_table('status_monitors')
    with op.batch_alter_table('service_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_service_checks_service_at')

    op.drop_table('service_checks')
    with op.batch_alter_table('media_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_media_requests_user_status')
        batch_op.drop_index(batch_op.f('ix_media_requests_seerr_id'))

    op.drop_table('media_requests')
    op.drop_table('service_configs')
    op.drop_table('plex_refreshes')
