"""Orders, the holds that keep their inventory aside, seat claims and payments."""

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
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class OrderStatus(enum.StrEnum):
    HELD = "held"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUND_DUE = "refund_due"
    REFUNDED = "refunded"


class HoldState(enum.StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"
    RELEASED = "released"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    FLAGGED = "flagged"
    REFUNDED = "refunded"


class Buyer(Base):
    """One buyer per phone number across every channel; remembers the language chosen."""

    __tablename__ = "buyers"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    language: Mapped[str] = mapped_column(String(5), server_default="en")
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_minor >= 0", name="total_non_negative"),
        CheckConstraint("discount_minor >= 0", name="discount_non_negative"),
        Index("ix_orders_buyer_phone", "buyer_phone"),
        Index(
            "ix_orders_reseller", "reseller_id", postgresql_where=text("reseller_id IS NOT NULL")
        ),
        Index("ix_orders_event_status", "event_id", "status"),
        Index(
            "ix_orders_open_expiry",
            "expires_at",
            postgresql_where=text("status IN ('held', 'awaiting_payment')"),
        ),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="RESTRICT"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="RESTRICT"))
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    buyer_phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"))
    agent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("agents.id", ondelete="RESTRICT")
    )
    # Sold with a reseller's code (theirs the commission) and/or a promo code; the total is
    # already net of `discount_minor`, which the lines' own discounts add up to.
    reseller_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("resellers.id", ondelete="RESTRICT")
    )
    promo_code_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("promo_codes.id", ondelete="RESTRICT")
    )
    discount_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flag_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_minor >= 0", name="price_non_negative"),
        CheckConstraint(
            "discount_minor BETWEEN 0 AND quantity * unit_price_minor", name="discount_within_price"
        ),
    )

    id: Mapped[int] = pk()
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    tier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tiers.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Hold(Base):
    """Inventory set aside for one order line; its quantity is counted in `tiers.held` (and in
    its reseller allocation's `held`, when it came from one)."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_holds_active_expiry", "expires_at", postgresql_where=text("state = 'active'")),
    )

    id: Mapped[int] = pk()
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    tier_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tiers.id", ondelete="RESTRICT"))
    allocation_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("reseller_allocations.id", ondelete="RESTRICT")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    state: Mapped[HoldState] = mapped_column(_enum(HoldState, "hold_state"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SeatClaim(Base):
    """A seat taken for an event by a hold or a ticket; live claims are unique per seat."""

    __tablename__ = "seat_claims"
    __table_args__ = (
        Index(
            "uq_seat_claims_live",
            "event_id",
            "seat_id",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = pk()
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    seat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("seats.id", ondelete="RESTRICT"))
    hold_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("holds.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "reference", name="uq_payments_provider_reference"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index(
            "ix_payments_pending_check",
            "next_check_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = pk()
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(120))
    merchant_reference: Mapped[str] = mapped_column(String(12), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payer_phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, "payment_status"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    provider_data: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    instructions: Mapped[str | None] = mapped_column(Text)
    checks: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentEvent(Base):
    """Every callback or status answer a provider sent, kept raw for disputes."""

    __tablename__ = "payment_events"

    id: Mapped[int] = pk()
    payment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, object]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = created_at()


class PaymentAccount(Base):
    """An organizer's account at a provider; credentials sealed with the application secret."""

    __tablename__ = "payment_accounts"
    __table_args__ = (
        UniqueConstraint("organizer_id", "provider", name="uq_payment_accounts_provider"),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    methods: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    credentials_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    live: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
