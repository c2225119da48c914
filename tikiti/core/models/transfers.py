"""A ticket passing from one phone to another: the whole chain of holders is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class TicketTransfer(Base):
    """One transfer, asked for and then confirmed with a one-time code sent to the holder."""

    __tablename__ = "ticket_transfers"
    __table_args__ = (
        Index(
            "uq_ticket_transfers_pending",
            "ticket_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
        CheckConstraint(
            "status IN ('pending', 'done', 'cancelled', 'expired')", name="status_known"
        ),
    )

    id: Mapped[int] = pk()
    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    from_phone: Mapped[str] = mapped_column(String(20))
    to_phone: Mapped[str] = mapped_column(String(20))
    old_version: Mapped[int] = mapped_column(SmallInteger)
    otp_hash: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(12), server_default="pending")
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
