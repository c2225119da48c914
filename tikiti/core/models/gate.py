"""Gate scanners' tokens and staff PINs, idempotent scan answers, offline conflicts, salts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class GateToken(Base):
    """A scanner's bearer credential for one event; only its SHA-256 is kept, never the token."""

    __tablename__ = "gate_tokens"
    __table_args__ = (CheckConstraint("octet_length(token_hash) = 32", name="hash_length"),)

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    gate: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    label: Mapped[str] = mapped_column(String(100), server_default="")
    created_at: Mapped[datetime] = created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GateScan(Base):
    """The answer given to one client nonce, so a retried or re-uploaded scan counts once."""

    __tablename__ = "gate_scans"
    __table_args__ = (UniqueConstraint("organizer_id", "nonce", name="uq_gate_scans_nonce"),)

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE")
    )
    nonce: Mapped[str] = mapped_column(String(80))
    token_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("gate_tokens.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    answer: Mapped[dict[str, object]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at()


class GateConflict(Base):
    """One ticket let in twice by gates that could not see each other: for the organizer."""

    __tablename__ = "gate_conflicts"
    __table_args__ = (Index("ix_gate_conflicts_event_detected", "event_id", "detected_at"),)

    id: Mapped[int] = pk()
    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.id", ondelete="CASCADE"))
    first_gate: Mapped[str] = mapped_column(String(40))
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    second_gate: Mapped[str] = mapped_column(String(40))
    second_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = created_at()


class GateSalt(Base):
    """Per-event salt for the offline bundle's code hashes; public, but never shared by events."""

    __tablename__ = "gate_salts"
    __table_args__ = (CheckConstraint("octet_length(salt) = 16", name="salt_length"),)

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at()


class GateStaff(Base):
    """A gate worker without a smartphone: checks codes over USSD from a registered phone,
    after a PIN (argon2; locked for a while after repeated wrong tries)."""

    __tablename__ = "gate_staff"
    __table_args__ = (
        Index(
            "uq_gate_staff_live_phone",
            "event_id",
            "phone",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index("ix_gate_staff_phone", "phone"),
    )

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    gate: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100), server_default="")
    pin_hash: Mapped[str] = mapped_column(Text)
    failed_pin_attempts: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A PIN typed on this phone lets it check codes without asking again until then, so a
    # USSD session that times out between two fans does not cost the gate another PIN.
    trusted_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
