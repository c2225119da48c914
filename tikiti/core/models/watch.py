"""The devices a pay-per-view ticket has been watched on: the evidence for the device limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at, pk


class WatchDevice(Base):
    """One browser that opened a ticket's stream link; only a hash of its cookie is kept."""

    __tablename__ = "watch_devices"
    __table_args__ = (
        UniqueConstraint("ticket_id", "device_hash", name="uq_watch_devices_ticket_device"),
        CheckConstraint("octet_length(device_hash) = 32", name="hash_length"),
    )

    id: Mapped[int] = pk()
    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"))
    device_hash: Mapped[bytes] = mapped_column(LargeBinary)
    user_agent: Mapped[str] = mapped_column(String(200), server_default="")
    first_seen: Mapped[datetime] = created_at()
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
