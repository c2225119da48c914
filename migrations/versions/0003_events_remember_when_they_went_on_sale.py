"""Events remember when they went on sale, so buyers see the newest first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:56:24.432583
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('events', sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE events SET published_at = created_at WHERE status <> 'draft'")


def downgrade() -> None:
    op.drop_column('events', 'published_at')
