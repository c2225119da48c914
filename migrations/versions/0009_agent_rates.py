"""Agents earn a commission rate per event or per tier, not only one rate for everything.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_rates',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('agent_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=True),
    sa.Column('commission_bps', sa.Integer(), nullable=False),
    sa.CheckConstraint('commission_bps BETWEEN 0 AND 10000', name=op.f('ck_agent_rates_commission_range')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_rates_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_agent_rates_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_agent_rates_tier_id_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_rates'))
    )
    op.create_index(op.f('ix_agent_rates_agent_id'), 'agent_rates', ['agent_id'], unique=False)
    op.create_index('uq_agent_rates_scope', 'agent_rates', ['agent_id', 'event_id', sa.text('coalesce(tier_id, 0)')], unique=True)


def downgrade() -> None:
    op.drop_index('uq_agent_rates_scope', table_name='agent_rates')
    op.drop_index(op.f('ix_agent_rates_agent_id'), table_name='agent_rates')
    op.drop_table('agent_rates')
