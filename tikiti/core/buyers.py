"""A buyer is a phone number: their language, and the tickets they hold for upcoming events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core import notices, outbox
from tikiti.core.errors import NotFound
from tikiti.core.models import Buyer, Event, Order, Seat, Ticket, TicketStatus, Tier

RESEND_EVERY = timedelta(minutes=5)  # one resend per ticket per five minutes, against SMS floods


@dataclass(frozen=True, slots=True)
class HeldTicket:
    id: int
    code: str
    event_name: str
    event_code: str
    starts_at: datetime
    timezone: str
    tier_name: str
    seat: str | None
    watch_devices: int | None = None  # set for a pay-per-view event


async def language(reader: AsyncSession | AsyncConnection, phone: str) -> str | None:
    return await reader.scalar(select(Buyer.language).where(Buyer.phone == phone))


async def set_language(session: AsyncSession, phone: str, lang: str) -> None:
    await session.execute(
        insert(Buyer)
        .values(phone=phone, language=lang)
        .on_conflict_do_update(index_elements=["phone"], set_={"language": lang})
    )


async def set_opted_out(session: AsyncSession, phone: str, *, out: bool, now: datetime) -> None:
    """STOP and START: an opted-out buyer still gets the tickets they paid for, nothing else."""
    when = now if out else None
    await session.execute(
        insert(Buyer)
        .values(phone=phone, opted_out_at=when)
        .on_conflict_do_update(index_elements=["phone"], set_={"opted_out_at": when})
    )


async def opted_out(reader: AsyncSession | AsyncConnection, phone: str) -> bool:
    found = await reader.scalar(select(Buyer.opted_out_at).where(Buyer.phone == phone))
    return found is not None


async def upcoming_tickets(
    session: AsyncSession | AsyncConnection,
    phone: str,
    *,
    now: datetime | None = None,
    limit: int = 50,
) -> list[HeldTicket]:
    now = now or datetime.now(UTC)
    rows = await session.execute(
        select(
            Ticket.id,
            Ticket.code,
            Event.name,
            Event.code,
            Event.starts_at,
            Event.timezone,
            Tier.name,
            Seat.row_label,
            Seat.number,
            Event.stream_url,
            Event.watch_devices,
        )
        .join(Event, Event.id == Ticket.event_id)
        .join(Tier, Tier.id == Ticket.tier_id)
        .outerjoin(Seat, Seat.id == Ticket.seat_id)
        .where(
            Ticket.holder_phone == phone,
            Ticket.status == TicketStatus.VALID,
            Event.ends_at > now,
        )
        .order_by(Event.starts_at, Ticket.id)
        .limit(limit)
    )
    return [
        HeldTicket(
            i,
            code,
            name,
            ecode,
            starts,
            tz,
            tier,
            f"{row}{num}" if row else None,
            devices if stream else None,
        )
        for i, code, name, ecode, starts, tz, tier, row, num, stream, devices in rows
    ]


async def resend(session: AsyncSession, phone: str, ticket_id: int, channel: str) -> bool:
    """Queue the ticket's SMS again; False if it was resent only moments ago."""
    tickets = {t.id: t for t in await upcoming_tickets(session, phone)}
    ticket = tickets.get(ticket_id)
    if ticket is None:
        raise NotFound("no such ticket for this phone", ticket_id=ticket_id)
    lang = await language(session, phone) or "en"
    order_id, organizer_id = (
        await session.execute(
            select(Order.id, Order.organizer_id)
            .join(Ticket, Ticket.order_id == Order.id)
            .where(Ticket.id == ticket_id)
        )
    ).one()
    bucket = int(datetime.now(UTC).timestamp() // RESEND_EVERY.total_seconds())
    queued = await outbox.enqueue(
        session,
        outbox.Message(
            kind="ticket_resend",
            channel=channel,
            address=phone,
            language=lang,
            body=notices.ticket_sms(
                lang,
                event_name=ticket.event_name,
                starts_at=ticket.starts_at,
                timezone=ticket.timezone,
                tier_name=ticket.tier_name,
                code=ticket.code,
                seat=ticket.seat,
                watch_devices=ticket.watch_devices,
            ),
            dedupe_key=f"resend:{ticket_id}:{bucket}",
            organizer_id=organizer_id,
            order_id=order_id,
            ticket_id=ticket_id,
        ),
    )
    return queued is not None
