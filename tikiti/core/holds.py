"""Placing a hold: an order whose places are set aside for one buyer for a few minutes."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
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
    Buyer,
    Event,
    EventStatus,
    Order,
    OrderLine,
    OrderStatus,
    Section,
    SectionKind,
    Tier,
    TierPrice,
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


async def _priced_tiers(
    session: AsyncSession, event_id: int, tier_ids: list[int], currency: str, now: datetime
) -> dict[int, _PricedTier]:
    rows = (
        await session.execute(
            select(Tier, TierPrice.amount_minor, Section.kind)
            .outerjoin(TierPrice, (TierPrice.tier_id == Tier.id) & (TierPrice.currency == currency))
            .outerjoin(Section, Section.id == Tier.section_id)
            .where(Tier.id.in_(tier_ids), Tier.event_id == event_id)
        )
    ).all()
    found: dict[int, _PricedTier] = {}
    for tier, price, kind in rows:
        if not tier.active or (tier.sales_start and now < tier.sales_start):
            raise SalesClosed(f"{tier.name} is not on sale yet", tier_id=tier.id)
        if tier.sales_end and now >= tier.sales_end:
            raise SalesClosed(f"sales for {tier.name} have ended", tier_id=tier.id)
        if price is None:
            raise PriceUnavailable(f"{tier.name} is not sold in {currency}", tier_id=tier.id)
        found[tier.id] = _PricedTier(
            tier.id, tier.section_id, kind == SectionKind.RESERVED, int(price)
        )
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


async def _insert_order(session: AsyncSession, values: dict[str, object]) -> int | None:
    """Insert with a fresh reference; None when the idempotency key was taken meanwhile."""
    for _ in range(5):
        order_id = await session.scalar(
            pg_insert(Order)
            .values(reference=new_reference(), **values)
            .on_conflict_do_nothing()
            .returning(Order.id)
        )
        if order_id is not None:
            return int(order_id)
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
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event", event_id=event_id)
    if event.status != EventStatus.ON_SALE:
        raise SalesClosed(f"{event.name} is not on sale", event_id=event_id)
    lines = merge_items(items, event.per_order_limit)
    tiers = await _priced_tiers(session, event_id, [i.tier_id for i in lines], currency, now)
    total = sum(tiers[i.tier_id].price_minor * i.quantity for i in lines)
    expires_at = now + timedelta(minutes=event.hold_minutes)
    await session.execute(
        pg_insert(Buyer).values(phone=buyer_phone, language=language).on_conflict_do_nothing()
    )
    order_id = await _insert_order(
        session,
        {
            "organizer_id": event.organizer_id,
            "event_id": event_id,
            "buyer_phone": buyer_phone,
            "channel": channel,
            "language": language,
            "currency": currency,
            "total_minor": total,
            "status": OrderStatus.HELD,
            "agent_id": agent_id,
            "idempotency_key": idempotency_key,
            "expires_at": expires_at,
        },
    )
    if order_id is None:
        assert idempotency_key is not None
        again = await _existing(session, idempotency_key)
        assert again is not None
        return again
    await session.execute(
        insert(OrderLine),
        [
            {
                "order_id": order_id,
                "tier_id": i.tier_id,
                "quantity": i.quantity,
                "unit_price_minor": tiers[i.tier_id].price_minor,
            }
            for i in lines
        ],
    )
    seats = await take_places(session, event_id, order_id, lines, tiers, expires_at)
    reference = await session.scalar(select(Order.reference).where(Order.id == order_id))
    assert reference is not None
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
