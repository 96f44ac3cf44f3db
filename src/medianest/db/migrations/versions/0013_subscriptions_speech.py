"""find, follow and listen: subscriptions and their items, speech requests, and what downloads now carry

A subscription (a channel, a playlist or a podcast feed) lists what it has seen in `subscription_items`,
unique on (subscription, source_key), so an entry is queued once whoever checks. Downloads gain `kind`
(media or speech), the subscription that queued them, the `tags` to write into the file and the
SponsorBlock rule. Media gain the `description` read from a file's tags (a podcast episode's notes). On
SQLite, `playlists` gets back the AUTOINCREMENT that 0006 lost.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IdType = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
SQLITE_AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        'subscriptions',
        sa.Column('id', IdType, primary_key=True, autoincrement=True),
        sa.Column('user_id', IdType, sa.ForeignKey('users.id', ondelete='CASCADE',
                                                   name='fk_subscriptions_user_id_users'), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(8), nullable=False),
        sa.Column('name', sa.String(1024), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('image_url', sa.Text(), nullable=True),
        sa.Column('mode', sa.String(8), nullable=False),
        sa.Column('quality', sa.String(8), nullable=False),
        sa.Column('audio_format', sa.String(8), nullable=True),
        sa.Column('keep_last', sa.Integer(), nullable=True),
        sa.Column('max_age_days', sa.Integer(), nullable=True),
        sa.Column('include', sa.String(500), nullable=True),
        sa.Column('exclude', sa.String(500), nullable=True),
        sa.Column('sponsorblock', sa.String(8), nullable=True),
        sa.Column('backfill', sa.Integer(), nullable=False),
        sa.Column('interval_s', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checking_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('check_token', sa.String(32), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_found', sa.Integer(), nullable=False),
        sa.Column('etag', sa.String(512), nullable=True),
        sa.Column('last_modified', sa.String(128), nullable=True),
        sa.Column('feed_secret', sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_subscriptions'),
        sa.UniqueConstraint('user_id', 'url', name='uq_subscriptions_user_id'),
        **SQLITE_AUTOINCREMENT,
    )
    op.create_index('ix_subscriptions_user_id', 'subscriptions', ['user_id'])
    op.create_index('ix_subscriptions_next_check', 'subscriptions', ['next_check_at'])
    # SQLite rebuilds the table for its new foreign key: it must keep AUTOINCREMENT (a removed download's id
    # names its Socket.IO room and must never be handed out again).
    with op.batch_alter_table('downloads', table_kwargs=SQLITE_AUTOINCREMENT) as batch:
        batch.add_column(sa.Column('kind', sa.String(8), server_default='media', nullable=False))
        batch.add_column(sa.Column('subscription_id', IdType, nullable=True))
        batch.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('sponsorblock', sa.String(8), nullable=True))
        batch.create_foreign_key('fk_downloads_subscription_id_subscriptions', 'subscriptions',
                                 ['subscription_id'], ['id'], ondelete='SET NULL')
        batch.create_index('ix_downloads_subscription_id', ['subscription_id'])
    op.create_table(
        'subscription_items',
        sa.Column('id', IdType, primary_key=True, autoincrement=True),
        sa.Column('subscription_id', IdType, sa.ForeignKey(
            'subscriptions.id', ondelete='CASCADE', name='fk_subscription_items_subscription_id_subscriptions'),
            nullable=False),
        sa.Column('source_key', sa.String(255), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('title', sa.String(1024), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('position', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(8), nullable=False),
        sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('download_id', IdType, sa.ForeignKey(
            'downloads.id', ondelete='SET NULL', name='fk_subscription_items_download_id_downloads'), nullable=True),
        sa.Column('media_id', IdType, sa.ForeignKey(
            'media.id', ondelete='SET NULL', name='fk_subscription_items_media_id_media'), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_subscription_items'),
        sa.UniqueConstraint('subscription_id', 'source_key', name='uq_subscription_items_subscription_id'),
        **SQLITE_AUTOINCREMENT,
    )
    op.create_index('ix_subscription_items_published', 'subscription_items', ['subscription_id', 'published_at'])
    op.create_index('ix_subscription_items_media_id', 'subscription_items', ['media_id'])
    op.create_table(
        'speech_requests',
        sa.Column('download_id', IdType, sa.ForeignKey(
            'downloads.id', ondelete='CASCADE', name='fk_speech_requests_download_id_downloads'), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('language', sa.String(35), nullable=False),
        sa.Column('voice', sa.String(100), nullable=True),
        sa.Column('provider', sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint('download_id', name='pk_speech_requests'),
    )
    # A plain ADD COLUMN: a batch copy of `media` would rebuild its search triggers.
    op.add_column('media', sa.Column('description', sa.Text(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        # 0006 rebuilt `playlists` with AUTOINCREMENT and then, adding a column, rebuilt it again without:
        # a deleted playlist's id was handed out again. Rebuilt once more (rows and ids kept).
        with op.batch_alter_table('playlists', recreate='always', table_kwargs=SQLITE_AUTOINCREMENT):
            pass


def downgrade() -> None:
    op.execute('ALTER TABLE media DROP COLUMN description')
    op.drop_table('speech_requests')
    op.drop_table('subscription_items')
    with op.batch_alter_table('downloads', table_kwargs=SQLITE_AUTOINCREMENT) as batch:
        batch.drop_index('ix_downloads_subscription_id')
        batch.drop_constraint('fk_downloads_subscription_id_subscriptions', type_='foreignkey')
        batch.drop_column('sponsorblock')
        batch.drop_column('tags')
        batch.drop_column('subscription_id')
        batch.drop_column('kind')
    op.drop_table('subscriptions')
