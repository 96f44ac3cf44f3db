"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-20

Also creates the search index: an FTS5 table kept in sync by triggers on SQLite, a GIN
expression index over to_tsvector('simple', search_text) on PostgreSQL. search_text is the
lower-cased, diacritics-free concatenation of the searchable tags, computed by the library.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('media',
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=1024), nullable=False),
    sa.Column('artist', sa.String(length=1024), nullable=True),
    sa.Column('album', sa.String(length=1024), nullable=True),
    sa.Column('album_artist', sa.String(length=1024), nullable=True),
    sa.Column('track', sa.Integer(), nullable=True),
    sa.Column('disc', sa.Integer(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('genre', sa.String(length=255), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('container', sa.String(length=32), nullable=True),
    sa.Column('audio_codec', sa.String(length=32), nullable=True),
    sa.Column('video_codec', sa.String(length=32), nullable=True),
    sa.Column('bitrate', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('mime', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime', sa.Float(), nullable=False),
    sa.Column('artwork', sa.String(length=128), nullable=True),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('source_site', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.String(length=255), nullable=True),
    sa.Column('channel', sa.String(length=1024), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media')),
    sa.UniqueConstraint('path', name=op.f('uq_media_path'))
    )
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.create_index('ix_media_added_at', ['added_at'], unique=False)
        batch_op.create_index('ix_media_album', ['album'], unique=False)
        batch_op.create_index('ix_media_artist', ['artist'], unique=False)
        batch_op.create_index('ix_media_kind_title', ['kind', 'title'], unique=False)

    op.create_table('unreadable_files',
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('mtime', sa.Float(), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unreadable_files')),
    sa.UniqueConstraint('path', name=op.f('uq_unreadable_files_path'))
    )
    op.create_table('users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('username_key', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username_key', name=op.f('uq_users_username_key'))
    )
    op.create_table('playlists',
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_playlists_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playlists'))
    )
    with op.batch_alter_table('playlists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playlists_owner_id'), ['owner_id'], unique=False)

    op.create_table('plays',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('media_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('played_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('position_s', sa.Float(), nullable=True),
    sa.Column('listened_s', sa.Float(), nullable=True),
    sa.Column('completed', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_plays_media_id_media'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_plays_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plays'))
    )
    with op.batch_alter_table('plays', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plays_media_id'), ['media_id'], unique=False)
        batch_op.create_index('ix_plays_user_played_at', ['user_id', 'played_at'], unique=False)

    op.create_table('refresh_tokens',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_refresh_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_tokens_token_hash'))
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_refresh_tokens_family', ['family'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('scans',
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_scans_requested_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scans'))
    )
    op.create_table('user_media',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('media_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('liked', sa.Boolean(), nullable=False),
    sa.Column('liked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('play_count', sa.Integer(), nullable=False),
    sa.Column('last_played_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('position_s', sa.Float(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_user_media_media_id_media'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_media_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'media_id', name=op.f('pk_user_media'))
    )
    with op.batch_alter_table('user_media', schema=None) as batch_op:
        batch_op.create_index('ix_user_media_user_last_played', ['user_id', 'last_played_at'], unique=False)
        batch_op.create_index('ix_user_media_user_liked', ['user_id', 'liked'], unique=False)

    op.create_table('playlist_items',
    sa.Column('playlist_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('media_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_playlist_items_media_id_media'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['playlist_id'], ['playlists.id'], name=op.f('fk_playlist_items_playlist_id_playlists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playlist_items'))
    )
    with op.batch_alter_table('playlist_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playlist_items_media_id'), ['media_id'], unique=False)
        batch_op.create_index('ix_playlist_items_playlist_position', ['playlist_id', 'position'], unique=False)
    _create_search_index()


def downgrade() -> None:
    _drop_search_index()
    with op.batch_alter_table('playlist_items', schema=None) as batch_op:
        batch_op.drop_index('ix_playlist_items_playlist_position')
        batch_op.drop_index(batch_op.f('ix_playlist_items_media_id'))

    op.drop_table('playlist_items')
    with op.batch_alter_table('user_media', schema=None) as batch_op:
        batch_op.drop_index('ix_user_media_user_liked')
        batch_op.drop_index('ix_user_media_user_last_played')

    op.drop_table('user_media')
    op.drop_table('scans')
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_user_id'))
        batch_op.drop_index('ix_refresh_tokens_family')

    op.drop_table('refresh_tokens')
    with op.batch_alter_table('plays', schema=None) as batch_op:
        batch_op.drop_index('ix_plays_user_played_at')
        batch_op.drop_index(batch_op.f('ix_plays_media_id'))

    op.drop_table('plays')
    with op.batch_alter_table('playlists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playlists_owner_id'))

    op.drop_table('playlists')
    op.drop_table('users')
    op.drop_table('unreadable_files')
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_index('ix_media_kind_title')
        batch_op.drop_index('ix_media_artist')
        batch_op.drop_index('ix_media_album')
        batch_op.drop_index('ix_media_added_at')

    op.drop_table('media')


SQLITE_FTS = [
    """CREATE VIRTUAL TABLE media_fts USING fts5(search_text, content='media', content_rowid='id',
       tokenize="unicode61 remove_diacritics 2")""",
    """CREATE TRIGGER media_fts_ai AFTER INSERT ON media BEGIN
       INSERT INTO media_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER media_fts_ad AFTER DELETE ON media BEGIN
       INSERT INTO media_fts(media_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER media_fts_au AFTER UPDATE OF search_text ON media BEGIN
       INSERT INTO media_fts(media_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
       INSERT INTO media_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
]


def _create_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute("CREATE INDEX ix_media_search ON media USING GIN (to_tsvector('simple', search_text))")


def _drop_search_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("media_fts_ai", "media_fts_ad", "media_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS media_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_media_search")
