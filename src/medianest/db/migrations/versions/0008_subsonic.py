"""subsonic: the catalog (albums, artists and each item's keys into them), album and artist stars and
ratings, item ratings and bookmark notes, now playing, saved play queues, and a Subsonic password per user

The keys of the items already indexed are written here. The albums and artists tables are filled by the
next scan (every scan ends by refreshing them; the server scans at start). Items that may be tagged as a
compilation (an album without an album artist whose tracks name several artists) are read again by the
next scan, for the compilation flag this version reads.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import hashlib
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)
BATCH = 1000
media = sa.table('media', sa.column('id', sa.Integer), sa.column('kind', sa.String), sa.column('artist', sa.Text),
                 sa.column('album', sa.Text), sa.column('album_artist', sa.Text), sa.column('album_key', sa.String),
                 sa.column('artist_key', sa.String), sa.column('album_artist_key', sa.String),
                 sa.column('mtime', sa.Float))


def _key(*names: str) -> str:
    # A copy of library.catalog.key as it is now: a migration must not change when the app does.
    text = "\x1f".join(" ".join(unicodedata.normalize("NFKC", n).casefold().split()) for n in names)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def upgrade() -> None:
    # Plain ADD COLUMNs, which SQLite does in place: a batch rebuild of media would drop its search
    # index's triggers.
    op.add_column('media', sa.Column('compilation', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('media', sa.Column('album_key', sa.String(length=24), nullable=True))
    op.add_column('media', sa.Column('artist_key', sa.String(length=24), nullable=True))
    op.add_column('media', sa.Column('album_artist_key', sa.String(length=24), nullable=True))
    op.create_index('ix_media_album_key', 'media', ['album_key'])
    op.create_index('ix_media_artist_key', 'media', ['artist_key'])
    op.add_column('user_media', sa.Column('bookmark_comment', sa.String(length=1024), nullable=True))
    op.add_column('user_media', sa.Column('rating', sa.Integer(), nullable=True))
    op.add_column('users', sa.Column('subsonic_password', sa.LargeBinary(), nullable=True))
    _catalog_tables()
    _queue_tables()
    _write_keys()
    _read_possible_compilations_again()


def _catalog_tables() -> None:
    op.create_table('albums',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=False),
    sa.Column('sort_name', sa.String(length=1024), nullable=False),
    sa.Column('artist', sa.String(length=1024), nullable=False),
    sa.Column('artist_key', sa.String(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('genre', sa.String(length=255), nullable=True),
    sa.Column('song_count', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('compilation', sa.Boolean(), nullable=False),
    sa.Column('artwork', sa.String(length=128), nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('added_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_albums'))
    )
    op.create_index('ix_albums_sort_name', 'albums', ['sort_name', 'id'])
    op.create_index('ix_albums_added_at', 'albums', ['added_at', 'id'])
    op.create_index('ix_albums_artist_key', 'albums', ['artist_key'])
    op.create_index('ix_albums_year', 'albums', ['year', 'id'])
    op.create_table('artists',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=False),
    sa.Column('sort_name', sa.String(length=1024), nullable=False),
    sa.Column('album_count', sa.Integer(), nullable=False),
    sa.Column('song_count', sa.Integer(), nullable=False),
    sa.Column('artwork', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artists'))
    )
    op.create_index('ix_artists_sort_name', 'artists', ['sort_name', 'id'])
    op.create_table('user_catalog',
    sa.Column('user_id', ID, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=24), nullable=False),
    sa.Column('starred_at', WHEN, nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_catalog_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', 'key', name=op.f('pk_user_catalog'))
    )
    op.create_index('ix_user_catalog_starred', 'user_catalog', ['user_id', 'kind', 'starred_at'])


def _queue_tables() -> None:
    op.create_table('now_playing',
    sa.Column('user_id', ID, nullable=False),
    sa.Column('player', sa.String(length=255), nullable=False),
    sa.Column('media_id', ID, nullable=False),
    sa.Column('started_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['media_id'], ['media.id'], name=op.f('fk_now_playing_media_id_media'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_now_playing_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'player', name=op.f('pk_now_playing'))
    )
    op.create_table('play_queues',
    sa.Column('user_id', ID, nullable=False),
    sa.Column('media_ids', sa.JSON(), nullable=False),
    sa.Column('current_index', sa.Integer(), nullable=True),
    sa.Column('position_ms', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', WHEN, nullable=False),
    sa.Column('changed_by', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_play_queues_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_play_queues'))
    )


def _write_keys() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(media.c.id, media.c.artist, media.c.album, media.c.album_artist).where(
            media.c.id > last, media.c.kind == 'audio').order_by(media.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            by = row.album_artist or row.artist or '[Unknown Artist]'
            bind.execute(media.update().where(media.c.id == row.id).values(
                album_key=_key(by, row.album or '[Unknown Album]'), artist_key=_key(row.artist or '[Unknown Artist]'),
                album_artist_key=_key(by)))
        last = rows[-1].id


def _read_possible_compilations_again() -> None:
    several = (sa.select(media.c.album).where(media.c.kind == 'audio', media.c.album.is_not(None),
                                              media.c.album_artist.is_(None))
               .group_by(media.c.album).having(sa.func.count(sa.distinct(media.c.artist)) > 1))
    op.execute(media.update().where(media.c.kind == 'audio', media.c.album_artist.is_(None),
                                    media.c.album.in_(several)).values(mtime=-1.0))


def downgrade() -> None:
    op.drop_table('play_queues')
    op.drop_table('now_playing')
    op.drop_index('ix_user_catalog_starred', table_name='user_catalog')
    op.drop_table('user_catalog')
    op.drop_index('ix_artists_sort_name', table_name='artists')
    op.drop_table('artists')
    for name in ('ix_albums_year', 'ix_albums_artist_key', 'ix_albums_added_at', 'ix_albums_sort_name'):
        op.drop_index(name, table_name='albums')
    op.drop_table('albums')
    op.drop_column('users', 'subsonic_password')
    op.drop_column('user_media', 'rating')
    op.drop_column('user_media', 'bookmark_comment')
    op.drop_index('ix_media_artist_key', table_name='media')
    op.drop_index('ix_media_album_key', table_name='media')
    for column in ('album_artist_key', 'artist_key', 'album_key', 'compilation'):
        op.drop_column('media', column)  # in place (SQLite 3.35+), keeping the search triggers
