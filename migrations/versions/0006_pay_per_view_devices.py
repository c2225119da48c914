"""A pay-per-view ticket opens its stream on a limited number of devices, within a window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:10:34.551774
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('watch_devices',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('device_hash', sa.LargeBinary(), nullable=False),
    sa.Column('user_agent', sa.String(length=200), server_default='', nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('octet_length(device_hash) = 32', name=op.f('ck_watch_devices_hash_length')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_watch_devices_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watch_devices')),
    sa.UniqueConstraint('ticket_id', 'device_hash', name='uq_watch_devices_ticket_device')
    )
    op.add_column('events', sa.Column('watch_devices', sa.SmallInteger(), server_default=sa.text('2'), nullable=False))
    op.add_column('events', sa.Column('watch_until', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f('ck_events_watch_devices_range'), 'events', 'watch_devices BETWEEN 1 AND 20'
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_events_watch_devices_range'), 'events', type_='check')
    op.drop_column('events', 'watch_until')
    op.drop_column('events', 'watch_devices')
    op.drop_table('watch_devices')
