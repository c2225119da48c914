"""Agents: people who sell for cash from a prepaid float."""

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


class AgentRate(Base):
    """A commission rate for one agent on one event (or one tier of it), overriding the
    agent's own rate: organizers pay more for the match that is hard to sell."""

    __tablename__ = "agent_rates"
    __table_args__ = (
        Index(
            "uq_agent_rates_scope",
            "agent_id",
            "event_id",
            text("coalesce(tier_id, 0)"),
            unique=True,
        ),
        CheckConstraint("commission_bps BETWEEN 0 AND 10000", name="commission_range"),
    )

    id: Mapped[int] = pk()
    agent_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    tier_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tiers.id", ondelete="CASCADE")
    )
    commission_bps: Mapped[int] = mapped_column(Integer)
