"""Placing a hold: an order whose places are set aside for one buyer for a few minutes.

A hold may carry a reseller's code (the sale is theirs; on a tier where they have an allocation,
the places come from it) and a promo code (its discount is taken off the total and one use of it
is taken). Locks are always taken in one order: promo code, then allocation, then tier.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Integer, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import inventory, promos, resellers, seating
from tikiti.core.codes import ALPHABET
from tikiti.core.discounts import Line, line_discounts
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
    discount: Money | None = None  # what a promo code took off `total` (None: no code)


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
                            currency, total_minor, status, agent_id, reseller_id, promo_code_id,
                            discount_minor, idempotency_key, expires_at)
        VALUES (:organizer_id, :event_id, :reference, :phone, :channel, :language, :currency,
                :total, 'held', :agent_id, :reseller_id, :promo_code_id, :discount,
                :idempotency_key, :expires_at)
        ON CONFLICT DO NOTHING
        RETURNING id
    ), lines AS (
        INSERT INTO order_lines (order_id, tier_id, quantity, unit_price_minor, discount_minor)
        SELECT placed.id, line.tier_id, line.quantity, line.price, line.discount
          FROM placed, unnest(:tier_ids, :quantities, :prices, :discounts)
                       AS line(tier_id, quantity, price, discount)
    )
    SELECT id FROM placed
    """
).bindparams(
    bindparam("tier_ids", type_=ARRAY(BigInteger)),
    bindparam("quantities", type_=ARRAY(Integer)),
    bindparam("prices", type_=ARRAY(BigInteger)),
    bindparam("discounts", type_=ARRAY(BigInteger)),
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
        discount=(
            None if order.promo_code_id is None else Money(order.discount_minor, order.currency)
        ),
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


async def _reseller(
    session: AsyncSession, organizer_id: int, code: str | None
) -> resellers.ResellerView | None:
    """A blank code is no code: the dialog's optional step may pass what was typed, or ''."""
    if code is None or not code.strip():
        return None
    return await resellers.find(session, organizer_id=organizer_id, code=code)


async def _promo(
    session: AsyncSession, event_id: int, code: str | None, now: datetime
) -> promos.Promo | None:
    if code is None or not code.strip():
        return None
    return await promos.find(session, event_id=event_id, code=code, now=now)


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
    reseller_code: str | None = None,
    promo_code: str | None = None,
    now: datetime | None = None,
) -> Placed:
    """Set places aside; the same idempotency key twice returns the first hold, unchanged.

    An unknown or unusable code raises (resellers.ResellerNotFound, promos.PromoNotFound,
    PromoNotValid, PromoUsedUp, PromoBuyerLimit) and, like SoldOut, leaves the caller's
    transaction to be rolled back, so that nothing is held.
    """
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
    reseller = await _reseller(session, event.organizer_id, reseller_code)
    promo = await _promo(session, event_id, promo_code, now)
    priced = [Line(i.tier_id, i.quantity, tiers[i.tier_id].price_minor) for i in lines]
    discounts = line_discounts(promo.rule, priced, currency) if promo else [0] * len(lines)
    total = sum(line.unit_price_minor * line.quantity for line in priced) - sum(discounts)
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
            "reseller_id": reseller.id if reseller else None,
            "promo_code_id": promo.id if promo else None,
            "discount": sum(discounts),
            "idempotency_key": idempotency_key,
            "expires_at": expires_at,
            "tier_ids": [line.tier_id for line in priced],
            "quantities": [line.quantity for line in priced],
            "prices": [line.unit_price_minor for line in priced],
            "discounts": discounts,
        },
    )
    if inserted is None:
        assert idempotency_key is not None
        again = await _existing(session, idempotency_key)
        assert again is not None
        return again
    order_id, reference = inserted
    if promo:  # the code before the places: see the module's note on lock order
        await promos.redeem(
            session, promo.id, promo.per_buyer_limit, order_id=order_id, buyer_phone=buyer_phone
        )
    mine = await resellers.allocation_ids(session, reseller.id, list(tiers)) if reseller else {}
    seats = await take_places(session, event_id, order_id, lines, tiers, expires_at, mine)
    discount = Money(sum(discounts), currency) if promo else None
    return Placed(order_id, reference, expires_at, Money(total, currency), seats, True, discount)


async def take_places(
    session: AsyncSession,
    event_id: int,
    order_id: int,
    lines: Sequence[Item],
    tiers: dict[int, _PricedTier],
    expires_at: datetime,
    allocations: dict[int, int] | None = None,
) -> tuple[str, ...]:
    """Hold each line's places: from the reseller's allocation on that tier when there is one
    (`allocations`: tier id → allocation id), else from the tier's general pool."""
    seats: list[str] = []
    for line in lines:
        tier = tiers[line.tier_id]
        allocation_id = (allocations or {}).get(line.tier_id)
        if allocation_id is not None:
            hold_id = await inventory.take_allocated(
                session,
                order_id=order_id,
                allocation_id=allocation_id,
                quantity=line.quantity,
                expires_at=expires_at,
            )
        else:
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
    """Hold an expired order's places (and its promo code use) again, for a late payment;
    raises SoldOut, promos.PromoUsedUp or promos.PromoBuyerLimit if they are gone."""
    lines = (
        await session.execute(
            select(OrderLine.tier_id, OrderLine.quantity).where(OrderLine.order_id == order.id)
        )
    ).all()
    items = [Item(tier_id, quantity) for tier_id, quantity in sorted(lines)]
    tiers = await _priced_tiers_any_time(session, order, [i.tier_id for i in items])
    if order.promo_code_id is not None:
        await promos.retake(session, order.id, order.promo_code_id, order.buyer_phone)
    mine: dict[int, int] = {}
    if order.reseller_id is not None:
        mine = await resellers.allocation_ids(session, order.reseller_id, list(tiers))
    await take_places(session, order.event_id, order.id, items, tiers, now, mine)


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
