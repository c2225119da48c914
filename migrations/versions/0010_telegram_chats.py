"""Telegram buyers are phone numbers too: each chat remembers the number its owner shared.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 03:34:51.133278
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('telegram_chats',
    sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('first_name', sa.String(length=64), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('chat_id', name=op.f('pk_telegram_chats')),
    sa.UniqueConstraint('phone', name=op.f('uq_telegram_chats_phone'))
    )


def downgrade() -> None:
    op.drop_table('telegram_chats')
