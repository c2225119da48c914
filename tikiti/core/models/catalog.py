"""Venues, their sections and seats, events and the tiers that are sold for them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class SectionKind(enum.StrEnum):
    GENERAL = "general"
    RESERVED = "reserved"


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    ON_SALE = "on_sale"
    SALES_CLOSED = "sales_closed"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class Venue(Base):
    __tablename__ = "venues"

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class Section(Base):
    __tablename__ = "sections"
    __table_args__ = (
        UniqueConstraint("venue_id", "name", name="uq_sections_venue_name"),
        CheckConstraint("capacity >= 0", name="capacity_non_negative"),
    )

    id: Mapped[int] = pk()
    venue_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("venues.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[SectionKind] = mapped_column(_enum(SectionKind, "section_kind"))
    capacity: Mapped[int] = mapped_column(Integer)


class Seat(Base):
    """A numbered place; `row_rank` orders rows from best (lowest) to worst."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint("section_id", "row_label", "number", name="uq_seats_place"),
        Index("ix_seats_section_order", "section_id", "row_rank", "number"),
    )

    id: Mapped[int] = pk()
    section_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("sections.id", ondelete="CASCADE")
    )
    row_label: Mapped[str] = mapped_column(String(8))
    row_rank: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("per_order_limit BETWEEN 1 AND 100", name="per_order_limit_range"),
        CheckConstraint("hold_minutes BETWEEN 1 AND 120", name="hold_minutes_range"),
        CheckConstraint("code ~ '^[A-Z0-9]{2,16}$'", name="code_format"),
        CheckConstraint("watch_devices BETWEEN 1 AND 20", name="watch_devices_range"),
        CheckConstraint("max_transfers BETWEEN 0 AND 20", name="max_transfers_range"),
        CheckConstraint("transfer_cutoff_minutes >= 0", name="transfer_cutoff_positive"),
        Index("ix_events_status_starts", "status", "starts_at"),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    venue_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("venues.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[EventStatus] = mapped_column(
        _enum(EventStatus, "event_status"), server_default=EventStatus.DRAFT.value
    )
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    doors_open_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    per_order_limit: Mapped[int] = mapped_column(SmallInteger, server_default=text("10"))
    hold_minutes: Mapped[int] = mapped_column(SmallInteger, server_default=text("10"))
    stream_url: Mapped[str | None] = mapped_column(Text)
    # Pay-per-view: how many devices one ticket may watch on, and until when (replays);
    # the window opens with the doors (or shortly before the start) and closes at watch_until,
    # or at the end when that is not set.
    watch_devices: Mapped[int] = mapped_column(SmallInteger, server_default=text("2"))
    watch_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Transfers: allowed or not, how many times per ticket, and until how long before the
    # doors open (or the start), so touts cannot pass a ticket on at the gate.
    transfers_allowed: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    max_transfers: Mapped[int] = mapped_column(SmallInteger, server_default=text("2"))
    transfer_cutoff_minutes: Mapped[int] = mapped_column(Integer, server_default=text("120"))
    payment_methods: Mapped[list[str]] = mapped_column(
        ARRAY(String(40)), server_default=text("'{}'::varchar[]")
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class Tier(Base):
    """A ticket type; its counters are the inventory, guarded by the database itself."""

    __tablename__ = "tiers"
    __table_args__ = (
        CheckConstraint("sold >= 0 AND held >= 0", name="counters_non_negative"),
        CheckConstraint("sold + held <= capacity", name="not_oversold"),
        CheckConstraint("allocated >= 0", name="allocated_non_negative"),
        CheckConstraint("sold + held + allocated <= capacity", name="allocations_fit"),
        UniqueConstraint("event_id", "code", name="uq_tiers_event_code"),
    )

    id: Mapped[int] = pk()
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    section_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sections.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(60))
    code: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    held: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Resellers' places not yet held or sold: set aside, so general buyers can never take them.
    allocated: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sales_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sales_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sort_order: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class TierPrice(Base):
    __tablename__ = "tier_prices"
    __table_args__ = (CheckConstraint("amount_minor >= 0", name="amount_non_negative"),)

    tier_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tiers.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
