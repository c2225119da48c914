"""Outbox leases: a worker claims a message for a while, so a crash only delays it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:30:04.563373
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_outbox_provider_message_id'), 'outbox', ['provider_message_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_provider_message_id'), table_name='outbox')
    op.drop_column('outbox', 'lease_until')
