"""Telegram chats and the phone number each one shared: a buyer is a phone number, and a
chat becomes one only when its owner shares their own contact."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from tikiti.core.models.base import Base, created_at


class TelegramChat(Base):
    __tablename__ = "telegram_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger)
    # Unique: messages for a phone go to one chat, the one that shared it last.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(64), server_default="")
    created_at: Mapped[datetime] = created_at()
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
