"""The append-only, double-entry ledger: every money movement, balances are sums."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class LedgerEntry(Base):
    """One leg of a transfer; the legs of one `txn` sum to zero per currency (trigger-checked)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_account", "organizer_id", "account", "currency"),
        Index("ix_ledger_txn", "txn"),
    )

    id: Mapped[int] = pk()
    txn: Mapped[uuid.UUID] = mapped_column(Uuid)
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(30))
    account: Mapped[str] = mapped_column(String(80))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="RESTRICT")
    )
    order_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    payment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("payments.id", ondelete="RESTRICT")
    )
    agent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("agents.id", ondelete="RESTRICT")
    )
    memo: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = created_at()
