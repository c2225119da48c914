"""Queueing messages in the transaction that creates the fact they announce."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
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
    options: tuple[tuple[str, str], ...] = ()


# What a buyer who sent STOP still gets: the tickets they paid for, what they asked for
# themselves (a resend, a reply, a transfer code, the offer of the place they queued for), and
# a gate steward's PIN. Nothing else is queued for them.
ALWAYS = frozenset(
    {"ticket", "ticket_resend", "reply", "gate_pin", "transfer_code", "waitlist_offer"}
)

_OPTED_OUT = text("SELECT 1 FROM buyers WHERE phone = :phone AND opted_out_at IS NOT NULL")


async def enqueue(session: AsyncSession, message: Message) -> int | None:
    """Queue once per dedupe key: a retried settlement never queues the same SMS twice.
    None when it was queued before, or when the buyer opted out of this kind of message."""
    if message.kind not in ALWAYS and await session.scalar(_OPTED_OUT, {"phone": message.address}):
        return None
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
            options=[list(option) for option in message.options] or None,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return await session.scalar(statement)
