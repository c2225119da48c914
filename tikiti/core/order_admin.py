"""What an organizer's staff do to one order: refund it in full, send its tickets again.

Every function is bound to one organizer: another organizer's order is not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, buyers, notices, orders, outbox
from tikiti.core.errors import InvalidInput, InvalidState, NotFound
from tikiti.core.models import Event, Order, OrderStatus, Seat, Ticket, TicketStatus, Tier

MAX_REASON = 500
REFUNDABLE = (OrderStatus.PAID, OrderStatus.FULFILLED)
_NOT_REFUNDABLE = {
    OrderStatus.HELD: "the order is not paid",
    OrderStatus.AWAITING_PAYMENT: "the order is not paid",
    OrderStatus.EXPIRED: "the order expired unpaid",
    OrderStatus.CANCELLED: "the order was cancelled unpaid",
    OrderStatus.REFUND_DUE: "a refund is already owed for this order",
    OrderStatus.REFUNDED: "the order is already refunded",
}


@dataclass(frozen=True, slots=True)
class Resent:
    queued: int  # messages queued now
    skipped: int  # tickets sent again only moments ago


def clean_reason(typed: str) -> str:
    reason = " ".join(typed.split())
    if not reason or not reason.isprintable():
        raise InvalidInput("a reason is needed for a refund", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"keep the reason under {MAX_REASON} characters", field="reason")
    return reason


async def _own_order(session: AsyncSession, organizer_id: int, order_id: int) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.organizer_id == organizer_id)
        .with_for_update()
    )
    if order is None:
        raise NotFound("no such order", order_id=order_id)
    return order


async def refund(
    session: AsyncSession, organizer_id: int, order_id: int, *, actor: str, reason: str
) -> int:
    """Refund a paid order in full: its tickets are voided, their places return to sale and the
    amount paid is owed to the buyer (recorded by `orders.refund`, audited there).

    Refused, changing nothing, when the order is not paid, already refunded, or when a ticket
    of it was already used at the gate (the buyer went in: not a full refund)."""
    reason = clean_reason(reason)
    order = await _own_order(session, organizer_id, order_id)
    if order.status not in REFUNDABLE:
        why = _NOT_REFUNDABLE.get(order.status, f"the order is {order.status.value}")
        raise InvalidState(f"Not refunded: {why}.", order_id=order_id)
    used = await session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.order_id == order.id, Ticket.checked_in_at.is_not(None))
    )
    if used:
        raise InvalidState(
            f"Not refunded: {used} ticket(s) of this order were already used at the gate.",
            order_id=order_id,
        )
    return await orders.refund(session, order.id, actor=actor, reason=reason)


async def resend_tickets(
    session: AsyncSession, organizer_id: int, order_id: int, *, actor: str
) -> Resent:
    """Queue each valid ticket of the order again to the phone holding it (the buyer's, unless
    it was transferred), on the order's channel; once per ticket per five minutes, shared with
    the buyer's own resends."""
    order = await _own_order(session, organizer_id, order_id)
    rows = (
        await session.execute(
            select(
                Ticket.id,
                Ticket.code,
                Ticket.holder_phone,
                Event.name,
                Event.starts_at,
                Event.ends_at,
                Event.timezone,
                Event.stream_url,
                Event.watch_devices,
                Tier.name,
                Seat.row_label,
                Seat.number,
            )
            .join(Event, Event.id == Ticket.event_id)
            .join(Tier, Tier.id == Ticket.tier_id)
            .outerjoin(Seat, Seat.id == Ticket.seat_id)
            .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.VALID)
            .order_by(Ticket.id)
        )
    ).all()
    if not rows:
        raise InvalidState("Nothing sent: the order has no valid tickets.", order_id=order_id)
    now = datetime.now(UTC)
    if all(row[5] <= now for row in rows):
        raise InvalidState("Nothing sent: the event is over.", order_id=order_id)
    bucket = int(now.timestamp() // buyers.RESEND_EVERY.total_seconds())
    queued = skipped = 0
    for tid, code, holder, event, starts, _ends, zone, stream, devices, tier, row, num in rows:
        lang = await buyers.language(session, holder) or order.language
        body = notices.ticket_sms(
            lang,
            event_name=event,
            starts_at=starts,
            timezone=zone,
            tier_name=tier,
            code=code,
            seat=f"{row}{num}" if row else None,
            watch_devices=devices if stream else None,
        )
        message_id = await outbox.enqueue(
            session,
            outbox.Message(
                kind="ticket_resend",
                channel=order.channel,
                address=holder,
                language=lang,
                body=body,
                dedupe_key=f"resend:{tid}:{bucket}",
                organizer_id=order.organizer_id,
                order_id=order.id,
                ticket_id=tid,
            ),
        )
        if message_id is None:
            skipped += 1
        else:
            queued += 1
    if queued:
        await audit.record(
            session,
            organizer_id=order.organizer_id,
            actor=actor,
            action="order.tickets_resent",
            entity="order",
            entity_id=order.id,
            data={"queued": queued, "skipped": skipped},
        )
    return Resent(queued, skipped)
