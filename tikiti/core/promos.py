"""Promo codes: created by organizers, checked and priced for a buyer, used up atomically.

The total limit is one conditional UPDATE (`used < max_uses`) in the hold's own transaction, so
however many buyers type a code at once, at most `max_uses` orders carry it. That UPDATE's row
lock lasts until commit, so the per-buyer count that follows it (a new statement, hence a fresh
snapshot) sees every committed use and no concurrent one. An order that lapses gives its use
back (inventory.release calls give_back); a late payment takes it again, or is refunded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import BigInteger, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, sale_codes
from tikiti.core.discounts import (
    FIXED,
    PERCENT,
    Line,
    PromoBuyerLimit,
    PromoNotFound,
    PromoNotValid,
    PromoUsedUp,
    Rule,
    check_window,
    line_discounts,
)
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Event, PromoCode, Tier, TierPrice
from tikiti.core.money import Money

__all__ = [
    "Promo",
    "PromoBuyerLimit",
    "PromoNotFound",
    "PromoNotValid",
    "PromoUsedUp",
    "Quote",
    "Terms",
    "add",
    "find",
    "give_back",
    "listing",
    "quote",
    "redeem",
    "retake",
]

CODE_MAX = 16


class Wanted(Protocol):
    """What a buyer asks for (holds.Item fits)."""

    @property
    def tier_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Promo:
    id: int
    code: str
    rule: Rule
    per_buyer_limit: int | None


@dataclass(frozen=True, slots=True)
class Quote:
    """What a code would take off an order, to show before the buyer confirms."""

    promo_id: int
    code: str
    subtotal: Money
    discount: Money
    total: Money


@dataclass(frozen=True, slots=True)
class Terms:
    """A new code's terms: exactly one of `percent_bps` and `amount`."""

    percent_bps: int | None = None
    amount: Money | None = None
    tier_id: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = None
    per_buyer_limit: int | None = None


def normalize(code: str) -> str:
    return code.strip().upper()


def _view(row: PromoCode) -> Promo:
    rule = Rule(row.kind, row.value, row.currency, row.tier_id)
    return Promo(row.id, row.code, rule, row.per_buyer_limit)


async def find(
    session: AsyncSession, *, event_id: int, code: str, now: datetime | None = None
) -> Promo:
    """A code a buyer may use now on this event; raises PromoNotFound, PromoNotValid (outside
    its dates) or PromoUsedUp (a hint: the hold takes the use atomically)."""
    wanted = normalize(code)
    row = await session.scalar(
        select(PromoCode).where(PromoCode.event_id == event_id, PromoCode.code == wanted)
    )
    if row is None or not row.active:
        raise PromoNotFound(f"no promo code {wanted[:CODE_MAX]!r} for this event", code=wanted)
    check_window(row.starts_at, row.ends_at, now or datetime.now(UTC))
    if row.max_uses is not None and row.used >= row.max_uses:
        raise PromoUsedUp(f"{row.code} has been used up", promo_id=row.id)
    return _view(row)


_REDEEM = text(
    """
    WITH used AS (
        UPDATE promo_codes SET used = used + 1
         WHERE id = :promo_id AND (max_uses IS NULL OR used < max_uses)
        RETURNING id
    )
    INSERT INTO promo_redemptions (promo_code_id, order_id, buyer_phone)
    SELECT id, :order_id, :phone FROM used
    ON CONFLICT (order_id) DO UPDATE SET released_at = NULL
     WHERE promo_redemptions.released_at IS NOT NULL
    RETURNING id
    """
)

_BUYER_USES = text(
    """
    SELECT count(*) FROM promo_redemptions
     WHERE promo_code_id = :promo_id AND buyer_phone = :phone AND released_at IS NULL
    """
)


async def redeem(
    session: AsyncSession,
    promo_id: int,
    per_buyer_limit: int | None,
    *,
    order_id: int,
    buyer_phone: str,
) -> None:
    """Take one use for this order; PromoUsedUp or PromoBuyerLimit leave the caller's
    transaction to be rolled back, like SoldOut."""
    params = {"promo_id": promo_id, "order_id": order_id, "phone": buyer_phone}
    if await session.scalar(_REDEEM, params) is None:
        raise PromoUsedUp("this code has been used up", promo_id=promo_id)
    if per_buyer_limit is not None:
        uses = int(await session.scalar(_BUYER_USES, params) or 0)
        if uses > per_buyer_limit:
            raise PromoBuyerLimit(
                f"this code can be used {per_buyer_limit} time(s) per buyer", promo_id=promo_id
            )


async def retake(session: AsyncSession, order_id: int, promo_id: int, buyer_phone: str) -> None:
    """A late payment honours the discount agreed if a use can still be had, whatever the
    code's dates or switch now say."""
    per_buyer = await session.scalar(
        select(PromoCode.per_buyer_limit).where(PromoCode.id == promo_id)
    )
    await redeem(session, promo_id, per_buyer, order_id=order_id, buyer_phone=buyer_phone)


_GIVE_BACK = text(
    """
    WITH released AS (
        UPDATE promo_redemptions SET released_at = now()
         WHERE order_id = ANY(:order_ids) AND released_at IS NULL
        RETURNING promo_code_id
    )
    UPDATE promo_codes SET used = promo_codes.used - per_code.uses
      FROM (SELECT promo_code_id, count(*) AS uses FROM released GROUP BY promo_code_id) AS per_code
     WHERE promo_codes.id = per_code.promo_code_id
    """
).bindparams(bindparam("order_ids", type_=ARRAY(BigInteger)))


async def give_back(session: AsyncSession, order_ids: Sequence[int]) -> None:
    """Lapsed orders (expired, cancelled, payment failed) return their uses of their codes."""
    if order_ids:
        await session.execute(_GIVE_BACK, {"order_ids": list(order_ids)})


async def quote(
    session: AsyncSession,
    *,
    event_id: int,
    code: str,
    items: Sequence[Wanted],
    currency: str,
    buyer_phone: str | None = None,
    now: datetime | None = None,
) -> Quote:
    """What `code` takes off these tickets, checked as the hold will check it (except that
    the last uses may still go to someone else first)."""
    promo = await find(session, event_id=event_id, code=code, now=now)
    prices = dict(
        (
            await session.execute(
                select(TierPrice.tier_id, TierPrice.amount_minor).where(
                    TierPrice.tier_id.in_([i.tier_id for i in items]),
                    TierPrice.currency == currency,
                )
            )
        ).all()
    )
    lines = [Line(i.tier_id, i.quantity, int(prices.get(i.tier_id, 0))) for i in items]
    discount = sum(line_discounts(promo.rule, lines, currency))
    if buyer_phone is not None and promo.per_buyer_limit is not None:
        params = {"promo_id": promo.id, "phone": buyer_phone}
        if int(await session.scalar(_BUYER_USES, params) or 0) >= promo.per_buyer_limit:
            raise PromoBuyerLimit("you have already used this code", promo_id=promo.id)
    subtotal = sum(line.quantity * line.unit_price_minor for line in lines)
    return Quote(
        promo.id,
        promo.code,
        Money(subtotal, currency),
        Money(discount, currency),
        Money(subtotal - discount, currency),
    )


def _check_terms(terms: Terms) -> Rule:
    if (terms.percent_bps is None) == (terms.amount is None):
        raise InvalidInput("a code takes off either a percentage or an amount", field="value")
    for limit in (terms.max_uses, terms.per_buyer_limit):
        if limit is not None and limit < 1:
            raise InvalidInput("a limit is at least 1 use", field="limit")
    if terms.starts_at and terms.ends_at and terms.ends_at <= terms.starts_at:
        raise InvalidInput("a code must end after it starts", field="until")
    if terms.amount is not None:
        if terms.amount.minor <= 0:
            raise InvalidInput("the amount off must be more than zero", field="amount")
        return Rule(FIXED, terms.amount.minor, terms.amount.currency, terms.tier_id)
    assert terms.percent_bps is not None
    if not 0 < terms.percent_bps <= 10_000:
        raise InvalidInput("a percentage is more than 0 and at most 100", field="percent")
    return Rule(PERCENT, terms.percent_bps, None, terms.tier_id)


async def add(
    session: AsyncSession, *, event_id: int, code: str, terms: Terms, actor: str
) -> PromoCode:
    """Create a code for one event (or one tier of it)."""
    wanted = normalize(code)
    if not (2 <= len(wanted) <= CODE_MAX and wanted.isascii() and wanted.isalnum()):
        raise InvalidInput("a code is 2 to 16 letters and digits, e.g. EARLY10", field="code")
    rule = _check_terms(terms)
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event", event_id=event_id)
    if (
        terms.tier_id is not None
        and await session.scalar(
            select(Tier.id).where(Tier.id == terms.tier_id, Tier.event_id == event_id)
        )
        is None
    ):
        raise NotFound("no such tier for this event", tier_id=terms.tier_id)
    if await sale_codes.is_reseller_code(session, event.organizer_id, wanted):
        raise InvalidInput(f"{wanted} is already a reseller's code", field="code")
    promo = PromoCode(
        organizer_id=event.organizer_id,
        event_id=event_id,
        tier_id=terms.tier_id,
        code=wanted,
        kind=rule.kind,
        value=rule.value,
        currency=rule.currency,
        starts_at=terms.starts_at,
        ends_at=terms.ends_at,
        max_uses=terms.max_uses,
        per_buyer_limit=terms.per_buyer_limit,
    )
    try:
        async with session.begin_nested():
            session.add(promo)
            await session.flush()
    except IntegrityError:
        raise InvalidInput(f"{wanted} already exists for {event.code}", field="code") from None
    await audit.record(
        session,
        organizer_id=event.organizer_id,
        actor=actor,
        action="promo.added",
        entity="promo_code",
        entity_id=promo.id,
        data={"code": wanted, "event": event.code, "kind": rule.kind, "value": rule.value},
    )
    return promo


async def listing(session: AsyncSession, event_id: int) -> list[PromoCode]:
    rows = await session.scalars(
        select(PromoCode).where(PromoCode.event_id == event_id).order_by(PromoCode.code)
    )
    return list(rows)
