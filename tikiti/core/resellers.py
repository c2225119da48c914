"""Resellers: online sellers with a code; the sales made with it are theirs, and so is a commission.

A reseller may hold an allocation on a tier: places carved out of the tier (`tiers.allocated`)
that only their code can buy, and that their code buys from exclusively. Setting its size moves
places between the tier's general pool and the allocation by conditional UPDATEs, the
allocation row locked first, as in every inventory statement (see inventory.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, ledger, sale_codes
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.ledger import Leg, Refs
from tikiti.core.models import (
    Event,
    LedgerEntry,
    Order,
    Organizer,
    Reseller,
    ResellerAllocation,
    Tier,
)
from tikiti.core.money import Money
from tikiti.core.phones import normalize_phone

CODE = re.compile(r"[A-Z0-9]{2,12}")


class ResellerNotFound(NotFound):
    """No reseller with this code at this organizer, or one the organizer switched off."""

    code = "reseller_not_found"


@dataclass(frozen=True, slots=True)
class ResellerView:
    id: int
    organizer_id: int
    code: str
    name: str
    commission_bps: int


@dataclass(frozen=True, slots=True)
class Allocation:
    reseller_id: int
    tier_id: int
    capacity: int
    sold: int
    held: int

    @property
    def left(self) -> int:
        return self.capacity - self.sold - self.held


def normalize(code: str) -> str:
    return code.strip().upper()


async def add(
    session: AsyncSession,
    *,
    organizer_id: int,
    code: str,
    name: str,
    phone: str | None = None,
    commission_bps: int = 0,
    actor: str,
) -> Reseller:
    organizer = await session.get(Organizer, organizer_id)
    if organizer is None:
        raise NotFound("no such organizer", organizer_id=organizer_id)
    wanted = normalize(code)
    if not CODE.fullmatch(wanted):
        raise InvalidInput("a reseller code is 2 to 12 letters and digits, e.g. TINO", field="code")
    if not 0 <= commission_bps <= 10_000:
        raise InvalidInput("commission is 0 to 100 percent", field="commission")
    if await sale_codes.is_promo_code(session, organizer_id, wanted):
        raise InvalidInput(f"{wanted} is already a promo code", field="code")
    number = normalize_phone(phone, organizer.country) if phone else None
    reseller = Reseller(
        organizer_id=organizer_id,
        code=wanted,
        name=name.strip()[:200] or wanted,
        phone=number,
        commission_bps=commission_bps,
    )
    try:
        async with session.begin_nested():
            session.add(reseller)
            await session.flush()
    except IntegrityError:
        raise InvalidInput(f"{wanted} is already a reseller code", field="code") from None
    await audit.record(
        session,
        organizer_id=organizer_id,
        actor=actor,
        action="reseller.added",
        entity="reseller",
        entity_id=reseller.id,
        data={"code": wanted, "name": reseller.name, "commission_bps": commission_bps},
    )
    return reseller


async def find(session: AsyncSession, *, organizer_id: int, code: str) -> ResellerView:
    """The active reseller with this code, as a buyer typed it; raises ResellerNotFound."""
    wanted = normalize(code)
    row = await session.scalar(
        select(Reseller).where(Reseller.organizer_id == organizer_id, Reseller.code == wanted)
    )
    if row is None or not row.active:
        raise ResellerNotFound(f"no reseller with code {wanted[:12]!r}", code=wanted)
    return ResellerView(row.id, row.organizer_id, row.code, row.name, row.commission_bps)


async def allocation_ids(
    session: AsyncSession, reseller_id: int, tier_ids: list[int]
) -> dict[int, int]:
    """tier id → allocation id, for the tiers on which this reseller has an allocation."""
    rows = await session.execute(
        select(ResellerAllocation.tier_id, ResellerAllocation.id).where(
            ResellerAllocation.reseller_id == reseller_id,
            ResellerAllocation.tier_id.in_(tier_ids),
        )
    )
    return {int(tier_id): int(allocation_id) for tier_id, allocation_id in rows}


async def allocations(session: AsyncSession, reseller_id: int) -> list[Allocation]:
    rows = await session.scalars(
        select(ResellerAllocation)
        .where(ResellerAllocation.reseller_id == reseller_id)
        .order_by(ResellerAllocation.tier_id)
    )
    return [Allocation(r.reseller_id, r.tier_id, r.capacity, r.sold, r.held) for r in rows]


_CARVE = text(
    """
    UPDATE tiers SET allocated = allocated + :places
     WHERE id = :tier_id AND capacity - sold - held - allocated >= :places
    RETURNING id
    """
)
_FREE = text("SELECT capacity - sold - held - allocated FROM tiers WHERE id = :tier_id")
_UNCARVE = text("UPDATE tiers SET allocated = allocated - :places WHERE id = :tier_id")


async def allocate(
    session: AsyncSession, *, reseller_id: int, tier_id: int, places: int, actor: str
) -> Allocation:
    """Make the reseller's allocation on a tier `places` big: growing takes free places from
    the general pool, shrinking gives back places the reseller has not sold or held."""
    if places < 0:
        raise InvalidInput("places cannot be negative", field="places")
    reseller = await session.get(Reseller, reseller_id)
    organizer_id = await session.scalar(
        select(Event.organizer_id).join(Tier, Tier.event_id == Event.id).where(Tier.id == tier_id)
    )
    if reseller is None or organizer_id != reseller.organizer_id:
        raise NotFound("no such tier for this reseller", tier_id=tier_id)
    await session.execute(
        insert(ResellerAllocation)
        .values(reseller_id=reseller_id, tier_id=tier_id, capacity=0)
        .on_conflict_do_nothing(index_elements=["reseller_id", "tier_id"])
    )
    row = await session.scalar(
        select(ResellerAllocation)
        .where(ResellerAllocation.reseller_id == reseller_id, ResellerAllocation.tier_id == tier_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    await _move(session, row, places, reseller.code)
    await session.flush()
    await audit.record(
        session,
        organizer_id=reseller.organizer_id,
        actor=actor,
        action="reseller.allocated",
        entity="reseller",
        entity_id=reseller_id,
        data={"tier_id": tier_id, "places": places},
    )
    return Allocation(row.reseller_id, row.tier_id, row.capacity, row.sold, row.held)


async def _move(session: AsyncSession, row: ResellerAllocation, places: int, code: str) -> None:
    grow = places - row.capacity
    params = {"tier_id": row.tier_id, "places": abs(grow)}
    if grow > 0 and await session.scalar(_CARVE, params) is None:
        free = int(await session.scalar(_FREE, params) or 0)
        raise InvalidInput(f"only {max(free, 0)} more places are free to set aside", field="places")
    if grow < 0:
        if places < row.sold + row.held:
            raise InvalidInput(
                f"{code} has {row.sold + row.held} places sold or held here", field="places"
            )
        await session.execute(_UNCARVE, params)
    row.capacity = places


async def accrue_commission(session: AsyncSession, order: Order) -> Money | None:
    """At settlement: what the organizer now owes the reseller for this order (its total net
    of any discount, times the reseller's rate, rounded down)."""
    if order.reseller_id is None:
        return None
    bps = await session.scalar(
        select(Reseller.commission_bps).where(Reseller.id == order.reseller_id)
    )
    earned = order.total_minor * int(bps or 0) // 10_000
    if earned > 0:
        await ledger.record(
            session,
            organizer_id=order.organizer_id,
            kind="reseller_commission",
            currency=order.currency,
            legs=[
                Leg(ledger.COMMISSION_EXPENSE, earned),
                Leg(ledger.reseller_commission_account(order.reseller_id), -earned),
            ],
            refs=Refs(event_id=order.event_id, order_id=order.id),
        )
    return Money(earned, order.currency)


async def reverse_commission(session: AsyncSession, order: Order) -> None:
    """A refunded order earns its reseller nothing: what it accrued is taken back."""
    if order.reseller_id is None:
        return
    account = ledger.reseller_commission_account(order.reseller_id)
    accrued = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.order_id == order.id,
            LedgerEntry.account == account,
            LedgerEntry.currency == order.currency,
        )
    )
    owed = -int(accrued or 0)
    if owed > 0:
        await ledger.record(
            session,
            organizer_id=order.organizer_id,
            kind="reseller_commission_reversal",
            currency=order.currency,
            legs=[Leg(account, owed), Leg(ledger.COMMISSION_EXPENSE, -owed)],
            refs=Refs(event_id=order.event_id, order_id=order.id),
        )


async def commission_owed(
    session: AsyncSession, reseller: Reseller | ResellerView, currency: str
) -> Money:
    owed = await ledger.balance(
        session, reseller.organizer_id, ledger.reseller_commission_account(reseller.id), currency
    )
    return Money(-owed, currency)
