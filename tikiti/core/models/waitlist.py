"""People waiting for a sold-out tier, first come first served."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class WaitlistEntry(Base):
    """One phone in line for one tier; when a place returns it is held for them as an offer."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_entries_live",
            "tier_id",
            "phone",
            unique=True,
            postgresql_where=text("status IN ('waiting', 'offered')"),
        ),
        Index(
            "ix_waitlist_entries_line", "tier_id", "id", postgresql_where=text("status = 'waiting'")
        ),
        Index("ix_waitlist_entries_phone", "phone"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'bought', 'lapsed', 'left')", name="status_known"
        ),
    )

    id: Mapped[int] = pk()
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    tier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tiers.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(10), server_default="waiting")
    order_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()
    offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    offer_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
