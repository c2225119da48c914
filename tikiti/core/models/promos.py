"""Promo codes and their redemptions: discounts with limits the database keeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class PromoCode(Base):
    """A discount on one event (or one tier of it); `value` is basis points of the price for
    `percent`, minor units of `currency` for `fixed`. `used` counts live redemptions."""

    __tablename__ = "promo_codes"
    __table_args__ = (
        UniqueConstraint("event_id", "code", name="uq_promo_codes_event_code"),
        CheckConstraint("code ~ '^[A-Z0-9]{2,16}$'", name="code_format"),
        CheckConstraint(
            "(kind = 'percent' AND value BETWEEN 1 AND 10000 AND currency IS NULL)"
            " OR (kind = 'fixed' AND value > 0 AND currency IS NOT NULL)",
            name="kind_value",
        ),
        CheckConstraint("used >= 0", name="used_non_negative"),
        CheckConstraint("max_uses IS NULL OR used <= max_uses", name="within_limit"),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
        CheckConstraint(
            "per_buyer_limit IS NULL OR per_buyer_limit > 0", name="per_buyer_positive"
        ),
        CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at", name="window_order"
        ),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    tier_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tiers.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    per_buyer_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()


class PromoRedemption(Base):
    """One order's use of a code; released (and the use given back) when the order lapses."""

    __tablename__ = "promo_redemptions"
    __table_args__ = (
        Index(
            "ix_promo_redemptions_buyer",
            "promo_code_id",
            "buyer_phone",
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = pk()
    promo_code_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("promo_codes.id", ondelete="RESTRICT")
    )
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), unique=True
    )
    buyer_phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = created_at()
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
