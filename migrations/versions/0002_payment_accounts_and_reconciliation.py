"""Payment accounts per organizer; payments gain our own reference and a reconciliation clock.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:41:49.920802
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payment_accounts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('methods', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('credentials_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('live', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_payment_accounts_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_accounts')),
    sa.UniqueConstraint('organizer_id', 'provider', name='uq_payment_accounts_provider')
    )
    op.create_index(op.f('ix_payment_accounts_organizer_id'), 'payment_accounts', ['organizer_id'], unique=False)
    op.add_column('payments', sa.Column('merchant_reference', sa.String(length=12), nullable=True))
    # Payments made before this revision get a reference derived from their id.
    op.execute("UPDATE payments SET merchant_reference = 'P' || id WHERE merchant_reference IS NULL")
    op.alter_column('payments', 'merchant_reference', nullable=False)
    op.add_column('payments', sa.Column('provider_data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False))
    op.add_column('payments', sa.Column('instructions', sa.Text(), nullable=True))
    op.add_column('payments', sa.Column('checks', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('payments', sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_payments_pending_check', 'payments', ['next_check_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_unique_constraint(op.f('uq_payments_merchant_reference'), 'payments', ['merchant_reference'])


def downgrade() -> None:
    op.drop_constraint(op.f('uq_payments_merchant_reference'), 'payments', type_='unique')
    op.drop_index('ix_payments_pending_check', table_name='payments', postgresql_where=sa.text("status = 'pending'"))
    op.drop_column('payments', 'next_check_at')
    op.drop_column('payments', 'checks')
    op.drop_column('payments', 'instructions')
    op.drop_column('payments', 'provider_data')
    op.drop_column('payments', 'merchant_reference')
    op.drop_index(op.f('ix_payment_accounts_organizer_id'), table_name='payment_accounts')
    op.drop_table('payment_accounts')
