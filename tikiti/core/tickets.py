"""Issuing tickets for a settled order and producing their signed QR payloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import notices, outbox
from tikiti.core.codes import InvalidCode, new_code, parse
from tikiti.core.errors import NotFound
from tikiti.core.models import Event, Order, Ticket, TicketStatus, Tier
from tikiti.core.signing import KeyBox, TicketClaim, sign_claim

MAX_CODE_ATTEMPTS = 5

# One row per admission: (tier, seat) pairs for the order's converted holds, seats first.
_ADMISSIONS = text(
    """
    SELECT h.tier_id, c.seat_id, s.row_label, s.number
      FROM holds h
      LEFT JOIN seat_claims c ON c.hold_id = h.id AND c.released_at IS NULL
      LEFT JOIN seats s ON s.id = c.seat_id
     WHERE h.order_id = :order_id AND h.state = 'converted'
     ORDER BY h.id, s.row_rank, s.number
    """
)

_HOLD_QUANTITIES = text(
    "SELECT tier_id, sum(quantity) FROM holds"
    " WHERE order_id = :order_id AND state = 'converted' GROUP BY tier_id"
)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    id: int
    code: str
    tier_id: int
    seat: str | None


async def _admissions(
    session: AsyncSession, order_id: int
) -> list[tuple[int, int | None, str | None]]:
    """Seated admissions come from seat claims; general ones from hold quantities."""
    seated: list[tuple[int, int | None, str | None]] = []
    for tier_id, seat_id, row_label, number in await session.execute(
        _ADMISSIONS, {"order_id": order_id}
    ):
        if seat_id is not None:
            seated.append((tier_id, seat_id, f"{row_label}{number}"))
    seated_per_tier: dict[int, int] = {}
    for tier_id, _, _ in seated:
        seated_per_tier[tier_id] = seated_per_tier.get(tier_id, 0) + 1
    general: list[tuple[int, int | None, str | None]] = []
    for tier_id, quantity in await session.execute(_HOLD_QUANTITIES, {"order_id": order_id}):
        general.extend([(tier_id, None, None)] * (int(quantity) - seated_per_tier.get(tier_id, 0)))
    return seated + general


async def _insert_ticket(
    session: AsyncSession, order: Order, tier_id: int, seat_id: int | None
) -> tuple[int, str]:
    for _ in range(MAX_CODE_ATTEMPTS):
        code = new_code()
        ticket_id = await session.scalar(
            insert(Ticket)
            .values(
                order_id=order.id,
                event_id=order.event_id,
                tier_id=tier_id,
                seat_id=seat_id,
                code=code,
                status=TicketStatus.VALID,
                holder_phone=order.buyer_phone,
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(Ticket.id)
        )
        if ticket_id is not None:
            return int(ticket_id), code
    raise RuntimeError("could not find a free ticket code")  # 45 random bits: never in practice


async def issue_for_order(session: AsyncSession, order: Order) -> list[IssuedTicket]:
    """Create one ticket per admission and queue its SMS, in the caller's transaction."""
    event = await session.get_one(Event, order.event_id)
    tier_names = dict(
        (await session.execute(select(Tier.id, Tier.name).where(Tier.event_id == event.id))).all()
    )
    issued: list[IssuedTicket] = []
    for tier_id, seat_id, seat in await _admissions(session, order.id):
        ticket_id, code = await _insert_ticket(session, order, tier_id, seat_id)
        issued.append(IssuedTicket(ticket_id, code, tier_id, seat))
        body = notices.ticket_sms(
            order.language,
            event_name=event.name,
            starts_at=event.starts_at,
            timezone=event.timezone,
            tier_name=tier_names[tier_id],
            code=code,
            seat=seat,
            watch_devices=event.watch_devices if event.stream_url else None,
        )
        await outbox.enqueue(
            session,
            outbox.Message(
                kind="ticket",
                channel=order.channel,
                address=order.buyer_phone,
                language=order.language,
                body=body,
                dedupe_key=f"ticket:{ticket_id}:1",
                organizer_id=order.organizer_id,
                order_id=order.id,
                ticket_id=ticket_id,
            ),
        )
    return issued


@dataclass(frozen=True, slots=True)
class TicketFacts:
    event_name: str
    tier: str
    status: str
    checked_in_at: datetime | None
    gate: str | None
    timezone: str


async def describe(session: AsyncSession, organizer_id: int, code: str) -> TicketFacts | None:
    """What a code is, for people who sell (never a check-in); only the organizer's own."""
    try:
        normalized = parse(code)
    except InvalidCode:
        return None
    row = (
        await session.execute(
            select(
                Event.name,
                Tier.name,
                Ticket.status,
                Ticket.checked_in_at,
                Ticket.checked_in_gate,
                Event.timezone,
            )
            .join(Event, Event.id == Ticket.event_id)
            .join(Tier, Tier.id == Ticket.tier_id)
            .where(Ticket.code == normalized, Event.organizer_id == organizer_id)
        )
    ).one_or_none()
    if row is None:
        return None
    name, tier, status, at, gate, timezone = row
    return TicketFacts(name, tier, status.value, at, gate, timezone)


async def codes_of(session: AsyncSession, order_id: int) -> list[str]:
    found = await session.scalars(
        select(Ticket.code).where(Ticket.order_id == order_id).order_by(Ticket.id)
    )
    return list(found)


async def qr_payload(session: AsyncSession, keybox: KeyBox, ticket_id: int) -> str:
    """The signed text a gate verifies offline with only the event's public key."""
    row = (
        await session.execute(
            select(
                Ticket.id, Ticket.event_id, Ticket.tier_id, Ticket.version, Event.private_key_sealed
            )
            .join(Event, Event.id == Ticket.event_id)
            .where(Ticket.id == ticket_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no such ticket", ticket_id=ticket_id)
    private = keybox.open(row.private_key_sealed, f"event:{row.event_id}".encode())
    return sign_claim(private, TicketClaim(row.id, row.event_id, row.tier_id, row.version))
