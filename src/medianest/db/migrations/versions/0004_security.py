"""accounts and security: Plex sign-in, session details, audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Rebuilt on SQLite for AUTOINCREMENT: ids of deleted users are never handed out again (PostgreSQL's
    # sequences never reuse ids, so there the columns are simply added).
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('users', recreate='always' if sqlite else 'auto',
                              table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.add_column(sa.Column('plex_id', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('plex_username', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('plex_token', sa.LargeBinary(), nullable=True))
        batch.create_unique_constraint(op.f('uq_users_plex_id'), ['plex_id'])
    with op.batch_alter_table('refresh_tokens') as batch:
        batch.add_column(sa.Column('ip', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('user_agent', sa.String(length=255), nullable=True))
    op.create_table('plex_pins',
    sa.Column('handle', sa.String(length=64), nullable=False),
    sa.Column('plex_pin_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('expires_at', WHEN, nullable=False),
    sa.Column('used_at', WHEN, nullable=True),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plex_pins')),
    sa.UniqueConstraint('handle', name=op.f('uq_plex_pins_handle'))
    )
    op.create_table('audit_events',
    sa.Column('at', WHEN, nullable=False),
    sa.Column('actor_id', ID, nullable=True),
    sa.Column('actor_name', sa.String(length=255), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_at'), 'audit_events', ['at'], unique=False)
    op.create_index(op.f('ix_audit_events_actor_id'), 'audit_events', ['actor_id'], unique=False)
    op.create_index(op.f('ix_audit_events_action'), 'audit_events', ['action'], unique=False)


def downgrade() -> None:
    op.drop_table('audit_events')
    op.drop_table('plex_pins')
    with op.batch_alter_table('refresh_tokens') as batch:
        batch.drop_column('user_agent')
        batch.drop_column('ip')
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(op.f('uq_users_plex_id'), type_='unique')
        batch.drop_column('plex_token')
        batch.drop_column('plex_username')
        batch.drop_column('plex_id')
