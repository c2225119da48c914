"""Placing a hold: an order whose places are set aside for one buyer for a few minutes."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Integer, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import inventory, seating
from tikiti.core.codes import ALPHABET
from tikiti.core.errors import (
    InvalidInput,
    LimitExceeded,
    NotFound,
    PriceUnavailable,
    SalesClosed,
)
from tikiti.core.models import (
    EventStatus,
    Order,
    OrderLine,
    Section,
    SectionKind,
    Tier,
)
from tikiti.core.money import Money

REFERENCE_LENGTH = 8


@dataclass(frozen=True, slots=True)
class Item:
    tier_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Placed:
    order_id: int
    reference: str
    expires_at: datetime
    total: Money
    seats: tuple[str, ...]
    created: bool


@dataclass(frozen=True, slots=True)
class _PricedTier:
    tier_id: int
    section_id: int | None
    reserved: bool
    price_minor: int


def new_reference() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(REFERENCE_LENGTH))


def merge_items(items: Sequence[Item], per_order_limit: int) -> list[Item]:
    """One line per tier, ordered by tier id so concurrent orders lock tiers in the same order."""
    totals: dict[int, int] = {}
    for item in items:
        if item.quantity < 1:
            raise InvalidInput("quantity must be at least 1", field="quantity")
        totals[item.tier_id] = totals.get(item.tier_id, 0) + item.quantity
    if not totals:
        raise InvalidInput("an order needs at least one ticket", field="quantity")
    if sum(totals.values()) > per_order_limit:
        raise LimitExceeded(f"at most {per_order_limit} tickets per order", limit=per_order_limit)
    return [Item(tier_id, quantity) for tier_id, quantity in sorted(totals.items())]


_EVENT = text(
    "SELECT organizer_id, name, status, per_order_limit, hold_minutes FROM events WHERE id = :id"
)

_TIERS = text(
    """
    SELECT t.id, t.name, t.active, t.sales_start, t.sales_end, t.section_id,
           p.amount_minor, s.kind = 'reserved' AS reserved
      FROM tiers t
      LEFT JOIN tier_prices p ON p.tier_id = t.id AND p.currency = :currency
      LEFT JOIN sections s ON s.id = t.section_id
     WHERE t.event_id = :event_id AND t.id = ANY(:tier_ids)
    """
).bindparams(bindparam("tier_ids", type_=ARRAY(BigInteger)))

# The buyer, the order and its lines in one round trip; the hold itself comes last, so the
# tier row is locked for as short a time as possible.
_ORDER = text(
    """
    WITH buyer AS (
        INSERT INTO buyers (phone, language) VALUES (:phone, :language) ON CONFLICT DO NOTHING
    ), placed AS (
        INSERT INTO orders (organizer_id, event_id, reference, buyer_phone, channel, language,
                            currency, total_minor, status, agent_id, idempotency_key, expires_at)
        VALUES (:organizer_id, :event_id, :reference, :phone, :channel, :language, :currency,
                :total, 'held', :agent_id, :idempotency_key, :expires_at)
        ON CONFLICT DO NOTHING
        RETURNING id
    ), lines AS (
        INSERT INTO order_lines (order_id, tier_id, quantity, unit_price_minor)
        SELECT placed.id, line.tier_id, line.quantity, line.price
          FROM placed, unnest(:tier_ids, :quantities, :prices) AS line(tier_id, quantity, price)
    )
    SELECT id FROM placed
    """
).bindparams(
    bindparam("tier_ids", type_=ARRAY(BigInteger)),
    bindparam("quantities", type_=ARRAY(Integer)),
    bindparam("prices", type_=ARRAY(BigInteger)),
)


async def _priced_tiers(
    session: AsyncSession, event_id: int, tier_ids: list[int], currency: str, now: datetime
) -> dict[int, _PricedTier]:
    rows = await session.execute(
        _TIERS, {"event_id": event_id, "tier_ids": tier_ids, "currency": currency}
    )
    found: dict[int, _PricedTier] = {}
    for tier_id, name, active, start, end, section_id, price, reserved in rows:
        if not active or (start and now < start):
            raise SalesClosed(f"{name} is not on sale yet", tier_id=tier_id)
        if end and now >= end:
            raise SalesClosed(f"sales for {name} have ended", tier_id=tier_id)
        if price is None:
            raise PriceUnavailable(f"{name} is not sold in {currency}", tier_id=tier_id)
        found[tier_id] = _PricedTier(tier_id, section_id, bool(reserved), int(price))
    missing = set(tier_ids) - set(found)
    if missing:
        raise NotFound("no such ticket type for this event", tier_ids=sorted(missing))
    return found


async def _existing(session: AsyncSession, idempotency_key: str) -> Placed | None:
    order = await session.scalar(select(Order).where(Order.idempotency_key == idempotency_key))
    if order is None:
        return None
    return Placed(
        order.id,
        order.reference,
        order.expires_at,
        Money(order.total_minor, order.currency),
        (),
        created=False,
    )


async def _insert_order(session: AsyncSession, values: dict[str, object]) -> tuple[int, str] | None:
    """Insert with a fresh reference; None when the idempotency key was taken meanwhile."""
    for _ in range(5):
        reference = new_reference()
        order_id = await session.scalar(_ORDER, {**values, "reference": reference})
        if order_id is not None:
            return int(order_id), reference
        key = values.get("idempotency_key")
        if key is not None and await session.scalar(
            select(Order.id).where(Order.idempotency_key == key)
        ):
            return None
    raise RuntimeError("could not find a free order reference")


async def place_hold(
    session: AsyncSession,
    *,
    event_id: int,
    items: Sequence[Item],
    buyer_phone: str,
    channel: str,
    language: str,
    currency: str,
    idempotency_key: str | None = None,
    agent_id: int | None = None,
    now: datetime | None = None,
) -> Placed:
    """Set places aside; the same idempotency key twice returns the first hold, unchanged."""
    if idempotency_key and (found := await _existing(session, idempotency_key)):
        return found
    now = now or datetime.now(UTC)
    event = (await session.execute(_EVENT, {"id": event_id})).one_or_none()
    if event is None:
        raise NotFound("no such event", event_id=event_id)
    if event.status != EventStatus.ON_SALE.value:
        raise SalesClosed(f"{event.name} is not on sale", event_id=event_id)
    lines = merge_items(items, event.per_order_limit)
    tiers = await _priced_tiers(session, event_id, [i.tier_id for i in lines], currency, now)
    total = sum(tiers[i.tier_id].price_minor * i.quantity for i in lines)
    expires_at = now + timedelta(minutes=event.hold_minutes)
    inserted = await _insert_order(
        session,
        {
            "organizer_id": event.organizer_id,
            "event_id": event_id,
            "phone": buyer_phone,
            "channel": channel,
            "language": language,
            "currency": currency,
            "total": total,
            "agent_id": agent_id,
            "idempotency_key": idempotency_key,
            "expires_at": expires_at,
            "tier_ids": [i.tier_id for i in lines],
            "quantities": [i.quantity for i in lines],
            "prices": [tiers[i.tier_id].price_minor for i in lines],
        },
    )
    if inserted is None:
        assert idempotency_key is not None
        again = await _existing(session, idempotency_key)
        assert again is not None
        return again
    order_id, reference = inserted
    seats = await take_places(session, event_id, order_id, lines, tiers, expires_at)
    return Placed(order_id, reference, expires_at, Money(total, currency), seats, created=True)


async def take_places(
    session: AsyncSession,
    event_id: int,
    order_id: int,
    lines: Sequence[Item],
    tiers: dict[int, _PricedTier],
    expires_at: datetime,
) -> tuple[str, ...]:
    seats: list[str] = []
    for line in lines:
        tier = tiers[line.tier_id]
        hold_id = await inventory.take(
            session,
            order_id=order_id,
            tier_id=line.tier_id,
            quantity=line.quantity,
            expires_at=expires_at,
        )
        if tier.reserved and tier.section_id is not None:
            chosen = await seating.assign(
                session,
                event_id=event_id,
                tier_id=line.tier_id,
                section_id=tier.section_id,
                hold_id=hold_id,
                count=line.quantity,
            )
            seats.extend(f"{s.row_label}{s.number}" for s in chosen)
    return tuple(seats)


async def retake(session: AsyncSession, order: Order, now: datetime) -> None:
    """Hold an expired order's places again (late payment); raises SoldOut if they are gone."""
    lines = (
        await session.execute(
            select(OrderLine.tier_id, OrderLine.quantity).where(OrderLine.order_id == order.id)
        )
    ).all()
    items = [Item(tier_id, quantity) for tier_id, quantity in sorted(lines)]
    tiers = await _priced_tiers_any_time(session, order, [i.tier_id for i in items])
    await take_places(session, order.event_id, order.id, items, tiers, now)


async def _priced_tiers_any_time(
    session: AsyncSession, order: Order, tier_ids: list[int]
) -> dict[int, _PricedTier]:
    """A late payment honours the price agreed, even if the sales window has since closed."""
    rows = (
        await session.execute(
            select(Tier.id, Tier.section_id, Section.kind)
            .outerjoin(Section, Section.id == Tier.section_id)
            .where(Tier.id.in_(tier_ids))
        )
    ).all()
    return {
        tier_id: _PricedTier(tier_id, section_id, kind == SectionKind.RESERVED, 0)
        for tier_id, section_id, kind in rows
    }
