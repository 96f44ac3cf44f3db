"""trust: ids never reused on SQLite, token epochs, offline library folders, scan liveness

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)

# Tables rebuilt on SQLite with AUTOINCREMENT, so a deleted row's id is never handed out again (users and
# service_configs have it already). PostgreSQL's sequences never reuse ids: nothing to do there.
AUTOINCREMENT_TABLES = (
    'media', 'unreadable_files', 'scans', 'refresh_tokens', 'api_keys', 'plex_pins', 'audit_events', 'plays',
    'playlists', 'playlist_items', 'downloads', 'download_items', 'media_requests', 'service_checks',
    'status_monitors', 'plex_refreshes', 'subtitles',
)
# Dropping the old media table during its rebuild drops these triggers with it (0001 made them).
MEDIA_FTS_TRIGGERS = [
    """CREATE TRIGGER media_fts_ai AFTER INSERT ON media BEGIN
       INSERT INTO media_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER media_fts_ad AFTER DELETE ON media BEGIN
       INSERT INTO media_fts(media_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER media_fts_au AFTER UPDATE OF search_text ON media BEGIN
       INSERT INTO media_fts(media_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
       INSERT INTO media_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        _rebuild_with_autoincrement()
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('token_epoch', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('playlists') as batch:  # hidden while an import fills it in batches
        batch.add_column(sa.Column('importing', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('scans') as batch:
        batch.add_column(sa.Column('owner', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('heartbeat_at', WHEN, nullable=True))
        batch.add_column(sa.Column('offline_folders', sa.JSON(), nullable=True))
    op.create_table('library_folders',
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('offline_since', WHEN, nullable=True),
    sa.Column('checked_at', WHEN, nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_library_folders')),
    sa.UniqueConstraint('path', name=op.f('uq_library_folders_path')),
    sqlite_autoincrement=True
    )
    _probe_again()


# Items whose facts this version reads differently: tags now read for these containers, and codecs that
# were named by their decoder or container. The next scan probes them again, in place (ids kept).
REREAD_CONTAINERS = ('asf', 'wav', 'aiff', 'avi', 'wavpack', 'ape', 'aac')
DECODER_NAMES = ('mp3float', 'mp2float', 'mp1float', 'asf', 'pcm', 'wave', 'aiff', 'ac-3', 'ec-3', 'fLaC',
                 'Opus', 'libopus', 'libvorbis', 'aac_fixed', 'libfdk_aac', 'libdav1d', 'libaom-av1', 'libvpx',
                 'libvpx-vp9', 'libopenh264')


def _probe_again() -> None:
    media = sa.table('media', sa.column('mtime', sa.Float), sa.column('container', sa.String),
                     sa.column('audio_codec', sa.String), sa.column('video_codec', sa.String))
    op.execute(media.update().where(sa.or_(
        media.c.container.in_(REREAD_CONTAINERS), media.c.audio_codec.in_(DECODER_NAMES),
        media.c.video_codec.in_(DECODER_NAMES), media.c.audio_codec.like('mp4a%'))).values(mtime=-1.0))
    # Files the old probe could not read get another try too.
    unreadable = sa.table('unreadable_files', sa.column('mtime', sa.Float))
    op.execute(unreadable.update().values(mtime=None))


def _rebuild_with_autoincrement() -> None:
    for table in AUTOINCREMENT_TABLES:
        # SQLite commits DDL of its own accord: a rebuild cut short (disk full, a kill) leaves its copy
        # behind, and the next try would stop on "table already exists".
        op.execute(f'DROP TABLE IF EXISTS _alembic_tmp_{table}')
    for table in AUTOINCREMENT_TABLES:
        # A rebuild keeps every row and its id; the AUTOINCREMENT counter starts at the largest id.
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
    for name in ('media_fts_ai', 'media_fts_ad', 'media_fts_au'):
        op.execute(f'DROP TRIGGER IF EXISTS {name}')
    for statement in MEDIA_FTS_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table('library_folders')
    with op.batch_alter_table('scans') as batch:
        batch.drop_column('offline_folders')
        batch.drop_column('heartbeat_at')
        batch.drop_column('owner')
    with op.batch_alter_table('playlists') as batch:
        batch.drop_column('importing')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('token_epoch')
