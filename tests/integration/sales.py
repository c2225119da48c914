"""Helpers for the reseller and promo code tests: buyers with codes, counters, a second tier."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select

from tests.factories import World, phone, unique_code
from tikiti.core import holds, promos, resellers, setup
from tikiti.core.db import Database
from tikiti.core.models import ResellerAllocation, Tier
from tikiti.core.money import Money


class Counts(NamedTuple):
    capacity: int
    sold: int
    held: int
    allocated: int

    @property
    def general(self) -> int:
        """What a buyer without a code can still take."""
        return self.capacity - self.sold - self.held - self.allocated


def buyer(
    world: World,
    n: int,
    *,
    quantity: int = 1,
    tier_id: int | None = None,
    reseller_code: str | None = None,
    promo_code: str | None = None,
    buyer_phone: str | None = None,
    now: datetime | None = None,
) -> Callable[[Database], Awaitable[holds.Placed]]:
    async def attempt(database: Database) -> holds.Placed:
        async with database.transaction() as session:
            return await holds.place_hold(
                session,
                event_id=world.event_id,
                items=[holds.Item(tier_id or world.ga_tier_id, quantity)],
                buyer_phone=buyer_phone or phone(n),
                channel="ussd",
                language="en",
                currency="USD",
                reseller_code=reseller_code,
                promo_code=promo_code,
                now=now,
            )

    return attempt


async def counts(db: Database, tier_id: int) -> Counts:
    async with db.session() as session:
        tier = await session.get_one(Tier, tier_id)
        return Counts(tier.capacity, tier.sold, tier.held, tier.allocated)


async def allocation(db: Database, reseller_id: int, tier_id: int) -> tuple[int, int, int]:
    """(capacity, sold, held) of the reseller's allocation on the tier."""
    async with db.session() as session:
        row = await session.scalar(
            select(ResellerAllocation).where(
                ResellerAllocation.reseller_id == reseller_id,
                ResellerAllocation.tier_id == tier_id,
            )
        )
        assert row is not None
        return row.capacity, row.sold, row.held


async def assert_allocations_carved(db: Database, tier_id: int) -> None:
    """The invariant the statements keep: `tiers.allocated` is what allocations have left."""
    async with db.session() as session:
        left = await session.scalar(
            select(
                func.coalesce(
                    func.sum(
                        ResellerAllocation.capacity
                        - ResellerAllocation.sold
                        - ResellerAllocation.held
                    ),
                    0,
                )
            ).where(ResellerAllocation.tier_id == tier_id)
        )
    assert (await counts(db, tier_id)).allocated == int(left or 0)


async def add_reseller(
    db: Database,
    world: World,
    *,
    places: int = 0,
    commission_bps: int = 500,
    tier_id: int | None = None,
) -> tuple[int, str]:
    """A reseller (and, given places, an allocation on the tier); returns (id, code)."""
    code = unique_code("R")[:12]
    async with db.transaction() as session:
        reseller = await resellers.add(
            session,
            organizer_id=world.organizer_id,
            code=code,
            name="Tino Online",
            commission_bps=commission_bps,
            actor="test",
        )
        if places:
            await resellers.allocate(
                session,
                reseller_id=reseller.id,
                tier_id=tier_id or world.ga_tier_id,
                places=places,
                actor="test",
            )
        return reseller.id, code


async def add_promo(db: Database, world: World, terms: promos.Terms) -> tuple[int, str]:
    code = unique_code("P")
    async with db.transaction() as session:
        promo = await promos.add(
            session, event_id=world.event_id, code=code, terms=terms, actor="test"
        )
        return promo.id, code


async def add_tier(db: Database, world: World, *, price_minor: int, capacity: int = 100) -> int:
    async with db.transaction() as session:
        tier = await setup.add_tier(
            session,
            world.event_id,
            setup.TierSpec(
                code="VIP", name="VIP", prices=[Money(price_minor, "USD")], capacity=capacity
            ),
        )
        return tier.id
