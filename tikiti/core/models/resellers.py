"""Resellers: online sellers with a code that buyers type, and the quotas carved out for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class Reseller(Base):
    """A sale made with the reseller's code is theirs, and earns `commission_bps` of it."""

    __tablename__ = "resellers"
    __table_args__ = (
        UniqueConstraint("organizer_id", "code", name="uq_resellers_organizer_code"),
        CheckConstraint("code ~ '^[A-Z0-9]{2,12}$'", name="code_format"),
        CheckConstraint("commission_bps BETWEEN 0 AND 10000", name="commission_range"),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    commission_bps: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()


class ResellerAllocation(Base):
    """Places of a tier that only the reseller's code can buy.

    Its counters move with the tier's in the same statements: a held or sold allocation place
    is also in `tiers.held` / `tiers.sold`, and the places not yet held or sold are in
    `tiers.allocated`, which general buyers can never take.
    """

    __tablename__ = "reseller_allocations"
    __table_args__ = (
        UniqueConstraint("reseller_id", "tier_id", name="uq_reseller_allocations_reseller_tier"),
        CheckConstraint("sold >= 0 AND held >= 0", name="counters_non_negative"),
        CheckConstraint("sold + held <= capacity", name="not_oversold"),
    )

    id: Mapped[int] = pk()
    reseller_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("resellers.id", ondelete="CASCADE")
    )
    tier_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tiers.id", ondelete="CASCADE"), index=True
    )
    capacity: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    held: Mapped[int] = mapped_column(Integer, server_default=text("0"))
