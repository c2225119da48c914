"""Tenants and the people who sign in to run them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Enum, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class Role(enum.StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    BOX_OFFICE = "box_office"
    GATE = "gate"


class Organizer(Base):
    __tablename__ = "organizers"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    default_currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = created_at()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = pk()
    organizer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", values_callable=lambda e: [m.value for m in e])
    )
    created_at: Mapped[datetime] = created_at()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Every change an admin or a process makes, for owners to read; never updated."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_organizer_created", "organizer_id", "created_at"),)

    id: Mapped[int] = pk()
    organizer_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("organizers.id", ondelete="CASCADE")
    )
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    data: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
