"""Finding an organizer's orders the way a buyer at the counter describes them.

A buyer offers an order reference, a ticket code from an SMS, or just their phone number;
each is tried in that order. Every query is bound to one organizer, so another organizer's
order is not found rather than refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core import codes
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.holds import REFERENCE_LENGTH
from tikiti.core.models import Event, Order, OrderLine, OrderStatus, Payment, Ticket, Tier
from tikiti.core.money import Money
from tikiti.core.phones import normalize_phone

Reader = AsyncSession | AsyncConnection
MAX_RESULTS = 50


@dataclass(frozen=True, slots=True)
class OrderSummary:
    id: int
    reference: str
    event_name: str
    buyer_phone: str
    channel: str
    status: OrderStatus
    total: Money
    tickets: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TicketLine:
    code: str
    tier_name: str
    status: str
    checked_in_at: datetime | None
    gate: str | None


@dataclass(frozen=True, slots=True)
class PaymentLine:
    provider: str
    method: str
    status: str
    amount: Money
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: OrderSummary
    tickets: tuple[TicketLine, ...]
    payments: tuple[PaymentLine, ...]


# Correlated with the orders row around it: the number of places the order bought.
_TICKETS = (
    select(func.coalesce(func.sum(OrderLine.quantity), 0))
    .where(OrderLine.order_id == Order.id)
    .scalar_subquery()
)


_SUMMARY = select(
    Order.id,
    Order.reference,
    Event.name,
    Order.buyer_phone,
    Order.channel,
    Order.status,
    Order.total_minor,
    Order.currency,
    _TICKETS,
    Order.created_at,
).join(Event, Event.id == Order.event_id)


def _summary(row: Sequence[Any]) -> OrderSummary:
    oid, reference, event, phone, channel, status, total, currency, tickets, created = row
    return OrderSummary(
        oid,
        reference,
        event,
        phone,
        channel,
        OrderStatus(status),
        Money(total, currency),
        int(tickets),
        created,
    )


def criterion(text: str, default_country: str) -> ColumnElement[bool] | None:
    """What the words typed mean as a condition on orders; None for "the latest orders"."""
    typed = text.strip()
    if not typed:
        return None
    if codes.is_valid(typed):
        code = codes.parse(typed)
        return Order.id.in_(select(Ticket.order_id).where(Ticket.code == code))
    reference = codes.normalize(typed)
    if len(reference) == REFERENCE_LENGTH and all(c in codes.ALPHABET for c in reference):
        return Order.reference == reference
    try:
        return Order.buyer_phone == normalize_phone(typed, default_country)
    except InvalidInput:
        raise InvalidInput(
            "type an order reference (8 characters), a ticket code or a phone number",
            field="q",
        ) from None


async def search(
    session: Reader, organizer_id: int, text: str, *, default_country: str = "ZW"
) -> list[OrderSummary]:
    """The organizer's orders matching what was typed, newest first; the latest when empty."""
    query = _SUMMARY.where(Order.organizer_id == organizer_id)
    condition = criterion(text, default_country)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(Order.created_at.desc(), Order.id.desc()).limit(MAX_RESULTS)
    return [_summary(row) for row in (await session.execute(query)).all()]


async def detail(session: Reader, organizer_id: int, order_id: int) -> OrderDetail:
    query = _SUMMARY.where(Order.organizer_id == organizer_id, Order.id == order_id)
    row = (await session.execute(query)).one_or_none()
    if row is None:
        raise NotFound("no such order", order_id=order_id)
    tickets = await session.execute(
        select(Ticket.code, Tier.name, Ticket.status, Ticket.checked_in_at, Ticket.checked_in_gate)
        .join(Tier, Tier.id == Ticket.tier_id)
        .where(Ticket.order_id == order_id)
        .order_by(Ticket.id)
    )
    payments = await session.execute(
        select(
            Payment.provider,
            Payment.method,
            Payment.status,
            Payment.amount_minor,
            Payment.currency,
            Payment.created_at,
        )
        .where(Payment.order_id == order_id)
        .order_by(Payment.id)
    )
    return OrderDetail(
        _summary(row),
        tuple(
            TicketLine(codes.format_code(code), tier, str(status), at, gate)
            for code, tier, status, at, gate in tickets.all()
        ),
        tuple(
            PaymentLine(provider, method, str(status), Money(amount, currency), created)
            for provider, method, status, amount, currency, created in payments.all()
        ),
    )
