"""Inventory moves as single atomic statements: the database, not the code, prevents overselling.

A reseller's allocation is carved out of its tier: its places not yet held or sold are counted in
`tiers.allocated`, which a general take can never reach (`capacity - sold - held - allocated`).
A place taken from an allocation moves from `allocated` to `held` on the tier, and into `held` on
the allocation, in one statement; release, convert and unsell move both rows back together.
Rows are always locked allocation first, then tier (and a promo code before both: see holds.py),
so these statements cannot deadlock each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from tikiti.core import promos
from tikiti.core.errors import SoldOut

# Takes `quantity` places on one tier and records the hold in the same statement, so the row
# lock on the tier lasts for one statement plus the commit.
_TAKE = text(
    """
    WITH taken AS (
        UPDATE tiers SET held = held + :quantity
         WHERE id = :tier_id AND active AND capacity - sold - held - allocated >= :quantity
        RETURNING id
    )
    INSERT INTO holds (order_id, tier_id, quantity, state, expires_at)
    SELECT :order_id, taken.id, :quantity, 'active', :expires_at FROM taken
    RETURNING id
    """
)

_AVAILABLE = text("SELECT capacity - sold - held - allocated FROM tiers WHERE id = :tier_id")

# The allocation's own conditional UPDATE decides; the tier's places only change column
# (allocated → held), so its row needs no condition and its CHECK cannot fail.
_TAKE_ALLOCATED = text(
    """
    WITH mine AS (
        UPDATE reseller_allocations SET held = held + :quantity
         WHERE id = :allocation_id AND capacity - sold - held >= :quantity
           AND EXISTS (SELECT 1 FROM tiers
                        WHERE tiers.id = reseller_allocations.tier_id AND tiers.active)
        RETURNING tier_id
    ), taken AS (
        UPDATE tiers SET held = tiers.held + :quantity, allocated = tiers.allocated - :quantity
          FROM mine WHERE tiers.id = mine.tier_id
        RETURNING tiers.id
    )
    INSERT INTO holds (order_id, tier_id, allocation_id, quantity, state, expires_at)
    SELECT :order_id, taken.id, :allocation_id, :quantity, 'active', :expires_at FROM taken
    RETURNING id
    """
)

_ALLOCATION_LEFT = text(
    "SELECT tier_id, capacity - sold - held FROM reseller_allocations WHERE id = :allocation_id"
)

_RELEASE = text(
    """
    WITH released AS (
        UPDATE holds SET state = 'released', released_at = now()
         WHERE order_id = ANY(:order_ids) AND state = 'active'
        RETURNING id, tier_id, allocation_id, quantity
    ), seats AS (
        UPDATE seat_claims SET released_at = now()
         WHERE hold_id IN (SELECT id FROM released) AND released_at IS NULL
    ), allocations AS (
        UPDATE reseller_allocations SET held = reseller_allocations.held - mine.quantity
          FROM (SELECT allocation_id, sum(quantity) AS quantity FROM released
                 WHERE allocation_id IS NOT NULL GROUP BY allocation_id) AS mine
         WHERE reseller_allocations.id = mine.allocation_id
        RETURNING reseller_allocations.id
    )
    UPDATE tiers SET held = tiers.held - per_tier.quantity,
                     allocated = tiers.allocated + per_tier.allocated
      FROM (SELECT tier_id, sum(quantity) AS quantity,
                   coalesce(sum(quantity) FILTER (WHERE allocation_id IS NOT NULL), 0) AS allocated
              FROM released GROUP BY tier_id) AS per_tier,
           (SELECT count(*) FROM allocations) AS allocations_first
     WHERE tiers.id = per_tier.tier_id
    """
).bindparams(bindparam("order_ids", type_=ARRAY(BigInteger)))

_CONVERT = text(
    """
    WITH converted AS (
        UPDATE holds SET state = 'converted'
         WHERE order_id = :order_id AND state = 'active'
        RETURNING tier_id, allocation_id, quantity
    ), allocations AS (
        UPDATE reseller_allocations SET held = reseller_allocations.held - mine.quantity,
                                        sold = reseller_allocations.sold + mine.quantity
          FROM (SELECT allocation_id, sum(quantity) AS quantity FROM converted
                 WHERE allocation_id IS NOT NULL GROUP BY allocation_id) AS mine
         WHERE reseller_allocations.id = mine.allocation_id
        RETURNING reseller_allocations.id
    )
    UPDATE tiers SET held = tiers.held - per_tier.quantity, sold = tiers.sold + per_tier.quantity
      FROM (SELECT tier_id, sum(quantity) AS quantity FROM converted GROUP BY tier_id) AS per_tier,
           (SELECT count(*) FROM allocations) AS allocations_first
     WHERE tiers.id = per_tier.tier_id
    RETURNING tiers.id
    """
)

# A refunded place that a reseller sold goes back to the reseller's allocation, found through
# the hold its order converted for that tier.
_UNSELL = text(
    """
    WITH lines AS (
        SELECT t.tier_id, h.allocation_id, count(*) AS quantity
          FROM tickets t
          LEFT JOIN LATERAL (
              SELECT allocation_id FROM holds
               WHERE holds.order_id = t.order_id AND holds.tier_id = t.tier_id
                 AND holds.state = 'converted'
               ORDER BY holds.id DESC LIMIT 1
          ) AS h ON true
         WHERE t.id = ANY(:ticket_ids)
         GROUP BY t.tier_id, h.allocation_id
    ), allocations AS (
        UPDATE reseller_allocations SET sold = reseller_allocations.sold - lines.quantity
          FROM lines WHERE reseller_allocations.id = lines.allocation_id
        RETURNING reseller_allocations.id
    )
    UPDATE tiers SET sold = tiers.sold - per_tier.quantity,
                     allocated = tiers.allocated + per_tier.allocated
      FROM (SELECT tier_id, sum(quantity) AS quantity,
                   coalesce(sum(quantity) FILTER (WHERE allocation_id IS NOT NULL), 0) AS allocated
              FROM lines GROUP BY tier_id) AS per_tier,
           (SELECT count(*) FROM allocations) AS allocations_first
     WHERE tiers.id = per_tier.tier_id
    """
).bindparams(bindparam("ticket_ids", type_=ARRAY(BigInteger)))


async def take(
    session: AsyncSession, *, order_id: int, tier_id: int, quantity: int, expires_at: datetime
) -> int:
    """Hold places on a tier for an order; raises SoldOut with what is left if too few remain."""
    hold_id = await session.scalar(
        _TAKE,
        {
            "order_id": order_id,
            "tier_id": tier_id,
            "quantity": quantity,
            "expires_at": expires_at,
        },
    )
    if hold_id is None:
        available = await session.scalar(_AVAILABLE, {"tier_id": tier_id})
        raise SoldOut(
            "not enough places left", tier_id=tier_id, available=max(int(available or 0), 0)
        )
    return int(hold_id)


async def take_allocated(
    session: AsyncSession,
    *,
    order_id: int,
    allocation_id: int,
    quantity: int,
    expires_at: datetime,
) -> int:
    """Hold places from a reseller's allocation; SoldOut says how many the allocation has left."""
    hold_id = await session.scalar(
        _TAKE_ALLOCATED,
        {
            "order_id": order_id,
            "allocation_id": allocation_id,
            "quantity": quantity,
            "expires_at": expires_at,
        },
    )
    if hold_id is None:
        tier_id, left = (
            await session.execute(_ALLOCATION_LEFT, {"allocation_id": allocation_id})
        ).one()
        raise SoldOut("not enough places left", tier_id=int(tier_id), available=max(int(left), 0))
    return int(hold_id)


async def release(session: AsyncSession, order_ids: Sequence[int]) -> None:
    """Return the active holds of these orders (and their seats, and their promo code uses) to
    the inventory. Promo uses go first: a hold takes its promo code before its places."""
    if order_ids:
        await promos.give_back(session, order_ids)
        await session.execute(_RELEASE, {"order_ids": list(order_ids)})


async def convert(session: AsyncSession, order_id: int) -> bool:
    """Turn an order's active holds into sold places; False when it had none left."""
    result = await session.execute(_CONVERT, {"order_id": order_id})
    return bool(result.fetchall())


async def unsell(session: AsyncSession, ticket_ids: Sequence[int]) -> None:
    """Give the places of refunded or cancelled tickets back to their tiers."""
    if ticket_ids:
        await session.execute(_UNSELL, {"ticket_ids": list(ticket_ids)})
