"""Tickets and every scan of them at a gate."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class TicketStatus(enum.StrEnum):
    VALID = "valid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(
            "(checked_in_at IS NULL) = (checked_in_gate IS NULL)", name="checkin_complete"
        ),
        Index("ix_tickets_holder_phone", "holder_phone"),
        Index(
            "uq_tickets_live_seat",
            "event_id",
            "seat_id",
            unique=True,
            postgresql_where=text("seat_id IS NOT NULL AND status = 'valid'"),
        ),
    )

    id: Mapped[int] = pk()
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="RESTRICT"))
    tier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tiers.id", ondelete="RESTRICT"))
    seat_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("seats.id", ondelete="RESTRICT")
    )
    code: Mapped[str] = mapped_column(String(10), unique=True)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, name="ticket_status", values_callable=lambda e: [m.value for m in e])
    )
    holder_phone: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[datetime] = created_at()
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_gate: Mapped[str | None] = mapped_column(String(40))


class CheckIn(Base):
    """One scan at a gate, whatever its result: the story of a ticket at the door."""

    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_event_gate", "event_id", "gate"),)

    id: Mapped[int] = pk()
    ticket_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    gate: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(20))
    scanned_at: Mapped[datetime] = created_at()
