"""Initial schema: catalog, inventory, orders, payments, tickets, agents, ledger, outbox.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 00:26:55.954369
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LEDGER_TRIGGERS = (
    """
CREATE FUNCTION ledger_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only';
END $$""",
    """
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change()""",
    """
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE unbalanced text;
BEGIN
    SELECT currency INTO unbalanced FROM ledger_entries
     WHERE txn = NEW.txn GROUP BY currency HAVING sum(amount_minor) <> 0 LIMIT 1;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transfer % does not balance in %', NEW.txn, unbalanced;
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE CONSTRAINT TRIGGER ledger_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()""",
)

ENUMS = (
    "user_role", "event_status", "section_kind", "order_status", "hold_state",
    "payment_status", "ticket_status", "outbox_status",
)


def upgrade() -> None:
    op.create_table('buyers',
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=5), server_default='en', nullable=False),
    sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_buyers'))
    )
    op.create_table('organizers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('default_currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizers')),
    sa.UniqueConstraint('slug', name=op.f('uq_organizers_slug'))
    )
    op.create_table('agents',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('pin_hash', sa.Text(), nullable=True),
    sa.Column('must_change_pin', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('float_minor', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('float_limit_minor', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('commission_bps', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('failed_pin_attempts', sa.SmallInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('commission_bps BETWEEN 0 AND 10000', name=op.f('ck_agents_commission_range')),
    sa.CheckConstraint('float_limit_minor >= 0', name=op.f('ck_agents_float_limit_non_negative')),
    sa.CheckConstraint('float_minor >= 0', name=op.f('ck_agents_float_non_negative')),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_agents_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('organizer_id', 'phone', name='uq_agents_organizer_phone')
    )
    op.create_index(op.f('ix_agents_organizer_id'), 'agents', ['organizer_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('entity', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_audit_log_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_organizer_created', 'audit_log', ['organizer_id', 'created_at'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.Enum('owner', 'manager', 'box_office', 'gate', name='user_role'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_users_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_index(op.f('ix_users_organizer_id'), 'users', ['organizer_id'], unique=False)
    op.create_table('venues',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_venues_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venues'))
    )
    op.create_index(op.f('ix_venues_organizer_id'), 'venues', ['organizer_id'], unique=False)
    op.create_table('events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('venue_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.Enum('draft', 'on_sale', 'sales_closed', 'finished', 'cancelled', name='event_status'), server_default='draft', nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('doors_open_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('per_order_limit', sa.SmallInteger(), server_default=sa.text('10'), nullable=False),
    sa.Column('hold_minutes', sa.SmallInteger(), server_default=sa.text('10'), nullable=False),
    sa.Column('stream_url', sa.Text(), nullable=True),
    sa.Column('payment_methods', postgresql.ARRAY(sa.String(length=40)), server_default=sa.text("'{}'::varchar[]"), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('private_key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[A-Z0-9]{2,16}$'", name=op.f('ck_events_code_format')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_events_ends_after_start')),
    sa.CheckConstraint('hold_minutes BETWEEN 1 AND 120', name=op.f('ck_events_hold_minutes_range')),
    sa.CheckConstraint('per_order_limit BETWEEN 1 AND 100', name=op.f('ck_events_per_order_limit_range')),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_events_organizer_id_organizers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_events_venue_id_venues'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('code', name=op.f('uq_events_code'))
    )
    op.create_index(op.f('ix_events_organizer_id'), 'events', ['organizer_id'], unique=False)
    op.create_index('ix_events_status_starts', 'events', ['status', 'starts_at'], unique=False)
    op.create_table('sections',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('venue_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('general', 'reserved', name='section_kind'), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.CheckConstraint('capacity >= 0', name=op.f('ck_sections_capacity_non_negative')),
    sa.ForeignKeyConstraint(['venue_id'], ['venues.id'], name=op.f('fk_sections_venue_id_venues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sections')),
    sa.UniqueConstraint('venue_id', 'name', name='uq_sections_venue_name')
    )
    op.create_index(op.f('ix_sections_venue_id'), 'sections', ['venue_id'], unique=False)
    op.create_table('orders',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=12), nullable=False),
    sa.Column('buyer_phone', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('held', 'awaiting_payment', 'paid', 'fulfilled', 'expired', 'cancelled', 'refund_due', 'refunded', name='order_status'), nullable=False),
    sa.Column('agent_id', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=120), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flag_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('total_minor >= 0', name=op.f('ck_orders_total_non_negative')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_orders_agent_id_agents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_orders_event_id_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_orders_organizer_id_organizers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_orders_idempotency_key')),
    sa.UniqueConstraint('reference', name=op.f('uq_orders_reference'))
    )
    op.create_index('ix_orders_buyer_phone', 'orders', ['buyer_phone'], unique=False)
    op.create_index('ix_orders_event_status', 'orders', ['event_id', 'status'], unique=False)
    op.create_index('ix_orders_open_expiry', 'orders', ['expires_at'], unique=False, postgresql_where=sa.text("status IN ('held', 'awaiting_payment')"))
    op.create_index(op.f('ix_orders_organizer_id'), 'orders', ['organizer_id'], unique=False)
    op.create_table('seats',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('section_id', sa.BigInteger(), nullable=False),
    sa.Column('row_label', sa.String(length=8), nullable=False),
    sa.Column('row_rank', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_seats_section_id_sections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seats')),
    sa.UniqueConstraint('section_id', 'row_label', 'number', name='uq_seats_place')
    )
    op.create_index('ix_seats_section_order', 'seats', ['section_id', 'row_rank', 'number'], unique=False)
    op.create_table('tiers',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('section_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('held', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sales_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sales_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sort_order', sa.SmallInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.CheckConstraint('sold + held <= capacity', name=op.f('ck_tiers_not_oversold')),
    sa.CheckConstraint('sold >= 0 AND held >= 0', name=op.f('ck_tiers_counters_non_negative')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_tiers_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_tiers_section_id_sections'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tiers')),
    sa.UniqueConstraint('event_id', 'code', name='uq_tiers_event_code')
    )
    op.create_index(op.f('ix_tiers_event_id'), 'tiers', ['event_id'], unique=False)
    op.create_table('holds',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('active', 'converted', 'released', name='hold_state'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_holds_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_holds_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_holds_tier_id_tiers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holds'))
    )
    op.create_index('ix_holds_active_expiry', 'holds', ['expires_at'], unique=False, postgresql_where=sa.text("state = 'active'"))
    op.create_index(op.f('ix_holds_order_id'), 'holds', ['order_id'], unique=False)
    op.create_table('order_lines',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('unit_price_minor >= 0', name=op.f('ck_order_lines_price_non_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_order_lines_tier_id_tiers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    op.create_index(op.f('ix_order_lines_order_id'), 'order_lines', ['order_id'], unique=False)
    op.create_table('payments',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('method', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=True),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('payer_phone', sa.String(length=20), nullable=False),
    sa.Column('status', sa.Enum('pending', 'paid', 'failed', 'flagged', 'refunded', name='payment_status'), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payments_idempotency_key')),
    sa.UniqueConstraint('provider', 'reference', name='uq_payments_provider_reference')
    )
    op.create_index(op.f('ix_payments_order_id'), 'payments', ['order_id'], unique=False)
    op.create_table('tickets',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.BigInteger(), nullable=False),
    sa.Column('seat_id', sa.BigInteger(), nullable=True),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('status', sa.Enum('valid', 'cancelled', 'refunded', name='ticket_status'), nullable=False),
    sa.Column('holder_phone', sa.String(length=20), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_gate', sa.String(length=40), nullable=True),
    sa.CheckConstraint('(checked_in_at IS NULL) = (checked_in_gate IS NULL)', name=op.f('ck_tickets_checkin_complete')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_tickets_event_id_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_tickets_order_id_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_tickets_seat_id_seats'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_tickets_tier_id_tiers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('code', name=op.f('uq_tickets_code'))
    )
    op.create_index('ix_tickets_holder_phone', 'tickets', ['holder_phone'], unique=False)
    op.create_index(op.f('ix_tickets_order_id'), 'tickets', ['order_id'], unique=False)
    op.create_index('uq_tickets_live_seat', 'tickets', ['event_id', 'seat_id'], unique=True, postgresql_where=sa.text("seat_id IS NOT NULL AND status = 'valid'"))
    op.create_table('tier_prices',
    sa.Column('tier_id', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_tier_prices_amount_non_negative')),
    sa.ForeignKeyConstraint(['tier_id'], ['tiers.id'], name=op.f('fk_tier_prices_tier_id_tiers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tier_id', 'currency', name=op.f('pk_tier_prices'))
    )
    op.create_table('checkins',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=True),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('gate', sa.String(length=40), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('scanned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_checkins_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_checkins_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins'))
    )
    op.create_index('ix_checkins_event_gate', 'checkins', ['event_id', 'gate'], unique=False)
    op.create_index(op.f('ix_checkins_ticket_id'), 'checkins', ['ticket_id'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('txn', sa.Uuid(), nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('account', sa.String(length=80), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('payment_id', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.BigInteger(), nullable=True),
    sa.Column('memo', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_ledger_entries_agent_id_agents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_ledger_entries_event_id_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_entries_order_id_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_ledger_entries_organizer_id_organizers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_ledger_entries_payment_id_payments'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    op.create_index('ix_ledger_account', 'ledger_entries', ['organizer_id', 'account', 'currency'], unique=False)
    op.create_index(op.f('ix_ledger_entries_order_id'), 'ledger_entries', ['order_id'], unique=False)
    op.create_index('ix_ledger_txn', 'ledger_entries', ['txn'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('media_url', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('ticket_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'sent', 'delivered', 'failed', name='outbox_status'), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('provider_message_id', sa.String(length=120), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_outbox_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_outbox_organizer_id_organizers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_outbox_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    op.create_index('ix_outbox_due', 'outbox', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_index(op.f('ix_outbox_order_id'), 'outbox', ['order_id'], unique=False)
    op.create_table('payment_events',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('payment_id', sa.BigInteger(), nullable=True),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_events_payment_id_payments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_events'))
    )
    op.create_index(op.f('ix_payment_events_payment_id'), 'payment_events', ['payment_id'], unique=False)
    op.create_table('seat_claims',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('seat_id', sa.BigInteger(), nullable=False),
    sa.Column('hold_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_seat_claims_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hold_id'], ['holds.id'], name=op.f('fk_seat_claims_hold_id_holds'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_seat_claims_seat_id_seats'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seat_claims'))
    )
    op.create_index(op.f('ix_seat_claims_hold_id'), 'seat_claims', ['hold_id'], unique=False)
    op.create_index('uq_seat_claims_live', 'seat_claims', ['event_id', 'seat_id'], unique=True, postgresql_where=sa.text('released_at IS NULL'))

    # The ledger is append-only, and the legs of each transfer balance per currency.
    for statement in LEDGER_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_balanced ON ledger_entries")
    op.execute("DROP TRIGGER IF EXISTS ledger_append_only ON ledger_entries")
    op.execute("DROP FUNCTION IF EXISTS ledger_check_balanced()")
    op.execute("DROP FUNCTION IF EXISTS ledger_forbid_change()")
    op.drop_index('uq_seat_claims_live', table_name='seat_claims', postgresql_where=sa.text('released_at IS NULL'))
    op.drop_index(op.f('ix_seat_claims_hold_id'), table_name='seat_claims')
    op.drop_table('seat_claims')
    op.drop_index(op.f('ix_payment_events_payment_id'), table_name='payment_events')
    op.drop_table('payment_events')
    op.drop_index(op.f('ix_outbox_order_id'), table_name='outbox')
    op.drop_index('ix_outbox_due', table_name='outbox', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('outbox')
    op.drop_index('ix_ledger_txn', table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_order_id'), table_name='ledger_entries')
    op.drop_index('ix_ledger_account', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index(op.f('ix_checkins_ticket_id'), table_name='checkins')
    op.drop_index('ix_checkins_event_gate', table_name='checkins')
    op.drop_table('checkins')
    op.drop_table('tier_prices')
    op.drop_index('uq_tickets_live_seat', table_name='tickets', postgresql_where=sa.text("seat_id IS NOT NULL AND status = 'valid'"))
    op.drop_index(op.f('ix_tickets_order_id'), table_name='tickets')
    op.drop_index('ix_tickets_holder_phone', table_name='tickets')
    op.drop_table('tickets')
    op.drop_index(op.f('ix_payments_order_id'), table_name='payments')
    op.drop_table('payments')
    op.drop_index(op.f('ix_order_lines_order_id'), table_name='order_lines')
    op.drop_table('order_lines')
    op.drop_index(op.f('ix_holds_order_id'), table_name='holds')
    op.drop_index('ix_holds_active_expiry', table_name='holds', postgresql_where=sa.text("state = 'active'"))
    op.drop_table('holds')
    op.drop_index(op.f('ix_tiers_event_id'), table_name='tiers')
    op.drop_table('tiers')
    op.drop_index('ix_seats_section_order', table_name='seats')
    op.drop_table('seats')
    op.drop_index(op.f('ix_orders_organizer_id'), table_name='orders')
    op.drop_index('ix_orders_open_expiry', table_name='orders', postgresql_where=sa.text("status IN ('held', 'awaiting_payment')"))
    op.drop_index('ix_orders_event_status', table_name='orders')
    op.drop_index('ix_orders_buyer_phone', table_name='orders')
    op.drop_table('orders')
    op.drop_index(op.f('ix_sections_venue_id'), table_name='sections')
    op.drop_table('sections')
    op.drop_index('ix_events_status_starts', table_name='events')
    op.drop_index(op.f('ix_events_organizer_id'), table_name='events')
    op.drop_table('events')
    op.drop_index(op.f('ix_venues_organizer_id'), table_name='venues')
    op.drop_table('venues')
    op.drop_index(op.f('ix_users_organizer_id'), table_name='users')
    op.drop_table('users')
    op.drop_index('ix_audit_log_organizer_created', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_agents_organizer_id'), table_name='agents')
    op.drop_table('agents')
    op.drop_table('organizers')
    op.drop_table('buyers')
    for name in ENUMS:
        op.execute(f"DROP TYPE IF EXISTS {name}")
