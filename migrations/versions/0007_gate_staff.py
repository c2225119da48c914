"""Gate staff without smartphones check codes over USSD from a registered phone with a PIN.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 03:10:34.551774
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gate_staff',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('gate', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('pin_hash', sa.Text(), nullable=False),
    sa.Column('failed_pin_attempts', sa.SmallInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trusted_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_gate_staff_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_gate_staff_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_staff'))
    )
    op.create_index(op.f('ix_gate_staff_event_id'), 'gate_staff', ['event_id'], unique=False)
    op.create_index(op.f('ix_gate_staff_organizer_id'), 'gate_staff', ['organizer_id'], unique=False)
    op.create_index('ix_gate_staff_phone', 'gate_staff', ['phone'], unique=False)
    op.create_index('uq_gate_staff_live_phone', 'gate_staff', ['event_id', 'phone'], unique=True, postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_gate_staff_live_phone', table_name='gate_staff', postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_index('ix_gate_staff_phone', table_name='gate_staff')
    op.drop_index(op.f('ix_gate_staff_organizer_id'), table_name='gate_staff')
    op.drop_index(op.f('ix_gate_staff_event_id'), table_name='gate_staff')
    op.drop_table('gate_staff')
