"""Gates scan by token, answer each nonce once, and sync offline scans, reporting double entries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 01:32:38.242881
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gate_salts',
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('salt', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('octet_length(salt) = 16', name=op.f('ck_gate_salts_salt_length')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_gate_salts_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_gate_salts'))
    )
    op.create_table('gate_tokens',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('gate', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(), nullable=False),
    sa.Column('label', sa.String(length=100), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('octet_length(token_hash) = 32', name=op.f('ck_gate_tokens_hash_length')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_gate_tokens_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_gate_tokens_organizer_id_organizers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_gate_tokens_token_hash'))
    )
    op.create_index(op.f('ix_gate_tokens_event_id'), 'gate_tokens', ['event_id'], unique=False)
    op.create_index(op.f('ix_gate_tokens_organizer_id'), 'gate_tokens', ['organizer_id'], unique=False)
    op.create_table('gate_scans',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('organizer_id', sa.BigInteger(), nullable=False),
    sa.Column('nonce', sa.String(length=80), nullable=False),
    sa.Column('token_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('answer', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_gate_scans_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['organizers.id'], name=op.f('fk_gate_scans_organizer_id_organizers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['token_id'], ['gate_tokens.id'], name=op.f('fk_gate_scans_token_id_gate_tokens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_scans')),
    sa.UniqueConstraint('organizer_id', 'nonce', name='uq_gate_scans_nonce')
    )
    op.create_index(op.f('ix_gate_scans_token_id'), 'gate_scans', ['token_id'], unique=False)
    op.create_table('gate_conflicts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('first_gate', sa.String(length=40), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('second_gate', sa.String(length=40), nullable=False),
    sa.Column('second_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_gate_conflicts_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_gate_conflicts_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_conflicts'))
    )
    op.create_index('ix_gate_conflicts_event_detected', 'gate_conflicts', ['event_id', 'detected_at'], unique=False)
    op.create_index(op.f('ix_gate_conflicts_ticket_id'), 'gate_conflicts', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_gate_conflicts_ticket_id'), table_name='gate_conflicts')
    op.drop_index('ix_gate_conflicts_event_detected', table_name='gate_conflicts')
    op.drop_table('gate_conflicts')
    op.drop_index(op.f('ix_gate_scans_token_id'), table_name='gate_scans')
    op.drop_table('gate_scans')
    op.drop_index(op.f('ix_gate_tokens_organizer_id'), table_name='gate_tokens')
    op.drop_index(op.f('ix_gate_tokens_event_id'), table_name='gate_tokens')
    op.drop_table('gate_tokens')
    op.drop_table('gate_salts')
