"""Which phone number a Telegram chat speaks for, and which chat a phone's messages go to.

A buyer is a phone number (mobile money needs one), so a chat buys nothing until its owner
shares their own number. A number belongs to one chat at a time: the one that shared it last,
because numbers change hands and Telegram accounts change numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core.models import TelegramChat

Reader = AsyncSession | AsyncConnection


@dataclass(frozen=True, slots=True)
class ChatUser:
    """Who wrote: the private chat's id, the Telegram user behind it and their first name."""

    chat_id: int
    user_id: int
    first_name: str = ""


async def phone_of(reader: Reader, chat_id: int) -> str | None:
    """The number the chat shared; None for a chat we have not met or that has not shared it."""
    return await reader.scalar(select(TelegramChat.phone).where(TelegramChat.chat_id == chat_id))


async def chat_of(reader: Reader, phone: str) -> int | None:
    """Where a message for this number goes; None when no chat has shared it."""
    return await reader.scalar(select(TelegramChat.chat_id).where(TelegramChat.phone == phone))


async def met(session: AsyncSession, user: ChatUser) -> None:
    """Remember a chat that wrote before sharing its number; a known chat is left as it is."""
    await session.execute(
        insert(TelegramChat)
        .values(chat_id=user.chat_id, user_id=user.user_id, first_name=user.first_name[:64])
        .on_conflict_do_nothing(index_elements=["chat_id"])
    )


async def link(session: AsyncSession, user: ChatUser, phone: str) -> None:
    """The chat speaks for `phone` from now on; any other chat that held it no longer does."""
    await session.execute(
        update(TelegramChat)
        .where(TelegramChat.phone == phone, TelegramChat.chat_id != user.chat_id)
        .values(phone=None, linked_at=None)
    )
    values = {"user_id": user.user_id, "first_name": user.first_name[:64], "phone": phone}
    await session.execute(
        insert(TelegramChat)
        .values(chat_id=user.chat_id, linked_at=func.now(), **values)
        .on_conflict_do_update(index_elements=["chat_id"], set_={**values, "linked_at": func.now()})
    )
