"""Queueing messages in the transaction that creates the fact they announce."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.models import OutboxMessage


@dataclass(frozen=True, slots=True)
class Message:
    kind: str
    channel: str
    address: str
    language: str
    body: str
    media_url: str | None = None
    dedupe_key: str | None = None
    organizer_id: int | None = None
    order_id: int | None = None
    ticket_id: int | None = None


async def enqueue(session: AsyncSession, message: Message) -> int | None:
    """Queue once per dedupe key: a retried settlement never queues the same SMS twice."""
    statement = (
        insert(OutboxMessage)
        .values(
            kind=message.kind,
            channel=message.channel,
            address=message.address,
            language=message.language,
            body=message.body,
            media_url=message.media_url,
            dedupe_key=message.dedupe_key,
            organizer_id=message.organizer_id,
            order_id=message.order_id,
            ticket_id=message.ticket_id,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return await session.scalar(statement)
