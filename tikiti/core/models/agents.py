"""Agents: people who sell for cash from a prepaid float."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("organizer_id", "phone", name="uq_agents_organizer_phone"),
        CheckConstraint("float_minor >= 0", name="float_non_negative"),
        CheckConstraint("float_limit_minor >= 0", name="float_limit_non_negative"),
        CheckConstraint("commission_bps BETWEEN 0 AND 10000", name="commission_range"),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    pin_hash: Mapped[str | None] = mapped_column(Text)
    must_change_pin: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    currency: Mapped[str] = mapped_column(String(3))
    float_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    float_limit_minor: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    commission_bps: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failed_pin_attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()
