"""Resellers sell with a code from quotas only they can buy; promo codes discount within limits.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 03:46:28.131936
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('resellers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('commission_bps', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[A-Z0-9]{2,12}$'", name=op.f('ck_resellers_code_format')),
    sa.CheckConstraint('commission_bps BETWEEN 0 AND 10000', name=op.f('ck_resellers_commission_range')),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_resellers_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resellers')),
    sa.UniqueConstraint('organizer_id', 'code', name='uq_resellers_organizer_code')
    )
    op.create_index(op.f('ix_resellers_organizer_id'), 'resellers', ['organizer_id'], unique=False)
    op.create_table('promo_codes',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=True),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('used', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('per_buyer_limit', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'percent' AND value BETWEEN 1 AND 10000 AND currency IS NULL) OR (kind = 'fixed' AND value > 0 AND currency IS NOT NULL)", name=op.f('ck_promo_codes_kind_value')),
    sa.CheckConstraint("code ~ '^[A-Z0-9]{2,16}$'", name=op.f('ck_promo_codes_code_format')),
    sa.CheckConstraint('max_uses IS NULL OR max_uses > 0', name=op.f('ck_promo_codes_max_uses_positive')),
    sa.CheckConstraint('max_uses IS NULL OR used <= max_uses', name=op.f('ck_promo_codes_within_limit')),
    sa.CheckConstraint('per_buyer_limit IS NULL OR per_buyer_limit > 0', name=op.f('ck_promo_codes_per_buyer_positive')),
    sa.CheckConstraint('starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at', name=op.f('ck_promo_codes_window_order')),
    sa.CheckConstraint('used >= 0', name=op.f('ck_promo_codes_used_non_negative')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_promo_codes_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_promo_codes_organizer_id_organizers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_promo_codes_tier_id_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_codes')),
    sa.UniqueConstraint('event_id', 'code', name='uq_promo_codes_event_code')
    )
    op.create_index(op.f('ix_promo_codes_organizer_id'), 'promo_codes', ['organizer_id'], unique=False)
    op.create_table('reseller_allocations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('reseller_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('held', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint('sold + held <= capacity', name=op.f('ck_reseller_allocations_not_oversold')),
    sa.CheckConstraint('sold >= 0 AND held >= 0', name=op.f('ck_reseller_allocations_counters_non_negative')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_reseller_allocations_reseller_id_resellers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_reseller_allocations_tier_id_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reseller_allocations')),
    sa.UniqueConstraint('reseller_id', 'tier_id', name='uq_reseller_allocations_reseller_tier')
    )
    op.create_index(op.f('ix_reseller_allocations_tier_id'), 'reseller_allocations', ['tier_id'], unique=False)
    op.create_table('promo_redemptions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('promo_code_id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('buyer_phone', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_promo_redemptions_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['promo_code_id'], ['promo_codes.id'], name=op.f('fk_promo_redemptions_promo_code_id_promo_codes'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_redemptions')),
    sa.UniqueConstraint('order_id', name=op.f('uq_promo_redemptions_order_id'))
    )
    op.create_index('ix_promo_redemptions_buyer', 'promo_redemptions', ['promo_code_id', 'buyer_phone'], unique=False, postgresql_where=sa.text('released_at IS NULL'))
    op.add_column('holds', sa.Column('allocation_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f('fk_holds_allocation_id_reseller_allocations'), 'holds', 'reseller_allocations', ['allocation_id'], ['id'], ondelete='RESTRICT')
    op.add_column('order_lines', sa.Column('discount_minor', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
    op.add_column('orders', sa.Column('reseller_id', sa.BigInteger(), nullable=True))
    op.add_column('orders', sa.Column('promo_code_id', sa.BigInteger(), nullable=True))
    op.add_column('orders', sa.Column('discount_minor', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
    op.create_index('ix_orders_reseller', 'orders', ['reseller_id'], unique=False, postgresql_where=sa.text('reseller_id IS NOT NULL'))
    op.create_foreign_key(op.f('fk_orders_reseller_id_resellers'), 'orders', 'resellers', ['reseller_id'], ['id'], ondelete='RESTRICT')
    op.create_foreign_key(op.f('fk_orders_promo_code_id_promo_codes'), 'orders', 'promo_codes', ['promo_code_id'], ['id'], ondelete='RESTRICT')
    op.add_column('tiers', sa.Column('allocated', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.create_check_constraint(op.f('ck_tiers_allocated_non_negative'), 'tiers', 'allocated >= 0')
    op.create_check_constraint(op.f('ck_tiers_allocations_fit'), 'tiers', 'sold + held + allocated <= capacity')
    op.create_check_constraint(op.f('ck_orders_discount_non_negative'), 'orders', 'discount_minor >= 0')
    op.create_check_constraint(op.f('ck_order_lines_discount_within_price'), 'order_lines', 'discount_minor BETWEEN 0 AND quantity * unit_price_minor')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_order_lines_discount_within_price'), 'order_lines', type_='check')
    op.drop_constraint(op.f('ck_orders_discount_non_negative'), 'orders', type_='check')
    op.drop_constraint(op.f('ck_tiers_allocations_fit'), 'tiers', type_='check')
    op.drop_constraint(op.f('ck_tiers_allocated_non_negative'), 'tiers', type_='check')
    op.drop_column('tiers', 'allocated')
    op.drop_constraint(op.f('fk_orders_promo_code_id_promo_codes'), 'orders', type_='foreignkey')
    op.drop_constraint(op.f('fk_orders_reseller_id_resellers'), 'orders', type_='foreignkey')
    op.drop_index('ix_orders_reseller', table_name='orders', postgresql_where=sa.text('reseller_id IS NOT NULL'))
    op.drop_column('orders', 'discount_minor')
    op.drop_column('orders', 'promo_code_id')
    op.drop_column('orders', 'reseller_id')
    op.drop_column('order_lines', 'discount_minor')
    op.drop_constraint(op.f('fk_holds_allocation_id_reseller_allocations'), 'holds', type_='foreignkey')
    op.drop_column('holds', 'allocation_id')
    op.drop_index('ix_promo_redemptions_buyer', table_name='promo_redemptions', postgresql_where=sa.text('released_at IS NULL'))
    op.drop_table('promo_redemptions')
    op.drop_index(op.f('ix_reseller_allocations_tier_id'), table_name='reseller_allocations')
    op.drop_table('reseller_allocations')
    op.drop_index(op.f('ix_promo_codes_organizer_id'), table_name='promo_codes')
    op.drop_table('promo_codes')
    op.drop_index(op.f('ix_resellers_organizer_id'), table_name='resellers')
    op.drop_table('resellers')
