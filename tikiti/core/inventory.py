"""Inventory moves as single atomic statements: the database, not the code, prevents overselling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from tikiti.core.errors import SoldOut

# Takes `quantity` places on one tier and records the hold in the same statement, so the row
# lock on the tier lasts for one statement plus the commit.
_TAKE = text(
    """
    WITH taken AS (
        UPDATE tiers SET held = held + :quantity
         WHERE id = :tier_id AND active AND capacity - sold - held >= :quantity
        RETURNING id
    )
    INSERT INTO holds (order_id, tier_id, quantity, state, expires_at)
    SELECT :order_id, taken.id, :quantity, 'active', :expires_at FROM taken
    RETURNING id
    """
)

_AVAILABLE = text("SELECT capacity - sold - held FROM tiers WHERE id = :tier_id")

_RELEASE = text(
    """
    WITH released AS (
        UPDATE holds SET state = 'released', released_at = now()
         WHERE order_id = ANY(:order_ids) AND state = 'active'
        RETURNING id, tier_id, quantity
    ), seats AS (
        UPDATE seat_claims SET released_at = now()
         WHERE hold_id IN (SELECT id FROM released) AND released_at IS NULL
    )
    UPDATE tiers SET held = tiers.held - per_tier.quantity
      FROM (SELECT tier_id, sum(quantity) AS quantity FROM released GROUP BY tier_id) AS per_tier
     WHERE tiers.id = per_tier.tier_id
    """
).bindparams(bindparam("order_ids", type_=ARRAY(BigInteger)))

_CONVERT = text(
    """
    WITH converted AS (
        UPDATE holds SET state = 'converted'
         WHERE order_id = :order_id AND state = 'active'
        RETURNING tier_id, quantity
    )
    UPDATE tiers SET held = tiers.held - per_tier.quantity, sold = tiers.sold + per_tier.quantity
      FROM (SELECT tier_id, sum(quantity) AS quantity FROM converted GROUP BY tier_id) AS per_tier
     WHERE tiers.id = per_tier.tier_id
    RETURNING tiers.id
    """
)

_UNSELL = text(
    """
    WITH lines AS (
        SELECT tier_id, count(*) AS quantity FROM tickets
         WHERE id = ANY(:ticket_ids) GROUP BY tier_id
    )
    UPDATE tiers SET sold = tiers.sold - lines.quantity
      FROM lines WHERE tiers.id = lines.tier_id
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


async def release(session: AsyncSession, order_ids: Sequence[int]) -> None:
    """Return the active holds of these orders (and their seats) to the inventory."""
    if order_ids:
        await session.execute(_RELEASE, {"order_ids": list(order_ids)})


async def convert(session: AsyncSession, order_id: int) -> bool:
    """Turn an order's active holds into sold places; False when it had none left."""
    result = await session.execute(_CONVERT, {"order_id": order_id})
    return bool(result.fetchall())


async def unsell(session: AsyncSession, ticket_ids: Sequence[int]) -> None:
    """Give the places of refunded or cancelled tickets back to their tiers."""
    if ticket_ids:
        await session.execute(_UNSELL, {"ticket_ids": list(ticket_ids)})
