"""Fans who missed a sold-out tier wait in line and are offered returned places in order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 03:40:26.133305
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('waitlist_entries',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='waiting', nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('waiting', 'offered', 'bought', 'lapsed', 'left')", name=op.f('ck_waitlist_entries_status_known')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_waitlist_entries_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_waitlist_entries_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_waitlist_entries_tier_id_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries'))
    )
    op.create_index('ix_waitlist_entries_line', 'waitlist_entries', ['tier_id', 'id'], unique=False, postgresql_where=sa.text("status = 'waiting'"))
    op.create_index('ix_waitlist_entries_phone', 'waitlist_entries', ['phone'], unique=False)
    op.create_index('uq_waitlist_entries_live', 'waitlist_entries', ['tier_id', 'phone'], unique=True, postgresql_where=sa.text("status IN ('waiting', 'offered')"))


def downgrade() -> None:
    op.drop_index('uq_waitlist_entries_live', table_name='waitlist_entries', postgresql_where=sa.text("status IN ('waiting', 'offered')"))
    op.drop_index('ix_waitlist_entries_phone', table_name='waitlist_entries')
    op.drop_index('ix_waitlist_entries_line', table_name='waitlist_entries', postgresql_where=sa.text("status = 'waiting'"))
    op.drop_table('waitlist_entries')
