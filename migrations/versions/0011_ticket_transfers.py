"""A ticket can pass to another phone, under the organizer's rules, with every holder kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 03:36:38.732694
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ticket_transfers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('from_phone', sa.String(length=20), nullable=False),
    sa.Column('to_phone', sa.String(length=20), nullable=False),
    sa.Column('old_version', sa.SmallInteger(), nullable=False),
    sa.Column('otp_hash', sa.Text(), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.String(length=12), server_default='pending', nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done', 'cancelled', 'expired')", name=op.f('ck_ticket_transfers_status_known')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_transfers_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_transfers'))
    )
    op.create_index(op.f('ix_ticket_transfers_ticket_id'), 'ticket_transfers', ['ticket_id'], unique=False)
    op.create_index('uq_ticket_transfers_pending', 'ticket_transfers', ['ticket_id'], unique=True, postgresql_where=sa.text("status = 'pending'"))
    op.add_column('events', sa.Column('transfers_allowed', sa.Boolean(), server_default=sa.text('true'), nullable=False))
    op.add_column('events', sa.Column('max_transfers', sa.SmallInteger(), server_default=sa.text('2'), nullable=False))
    op.add_column('events', sa.Column('transfer_cutoff_minutes', sa.Integer(), server_default=sa.text('120'), nullable=False))
    op.create_check_constraint(
        op.f('ck_events_max_transfers_range'), 'events', 'max_transfers BETWEEN 0 AND 20'
    )
    op.create_check_constraint(
        op.f('ck_events_transfer_cutoff_positive'), 'events', 'transfer_cutoff_minutes >= 0'
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_events_transfer_cutoff_positive'), 'events', type_='check')
    op.drop_constraint(op.f('ck_events_max_transfers_range'), 'events', type_='check')
    op.drop_column('events', 'transfer_cutoff_minutes')
    op.drop_column('events', 'max_transfers')
    op.drop_column('events', 'transfers_allowed')
    op.drop_index('uq_ticket_transfers_pending', table_name='ticket_transfers', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_ticket_transfers_ticket_id'), table_name='ticket_transfers')
    op.drop_table('ticket_transfers')
