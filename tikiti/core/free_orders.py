"""Orders a promo code made free: there is nothing to pay, so their places are sold at once.

A payment of zero cannot exist (payments are positive), so these orders skip the provider and
are fulfilled here, in the caller's transaction, as a settled payment would fulfil them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, inventory, resellers, tickets
from tikiti.core.errors import InvalidState
from tikiti.core.models import OrderStatus
from tikiti.core.money import Money
from tikiti.core.orders import OPEN, locked_order


async def fulfil(session: AsyncSession, order_id: int, *, actor: str) -> list[tickets.IssuedTicket]:
    """Issue the tickets of a held order whose total is zero; InvalidState otherwise."""
    order = await locked_order(session, order_id)
    if order.status not in OPEN:
        raise InvalidState(f"order is {order.status.value}", order_id=order_id)
    if order.total_minor != 0:
        due = Money(order.total_minor, order.currency)
        raise InvalidState(f"order has {due} to pay", order_id=order_id)
    if not await inventory.convert(session, order.id):
        raise InvalidState("order holds no places", order_id=order_id)
    order.status = OrderStatus.PAID
    issued = await tickets.issue_for_order(session, order)
    order.status = OrderStatus.FULFILLED
    await resellers.accrue_commission(session, order)
    await audit.record(
        session,
        organizer_id=order.organizer_id,
        actor=actor,
        action="order.fulfilled_free",
        entity="order",
        entity_id=order.id,
        data={"promo_code_id": order.promo_code_id, "discount_minor": order.discount_minor},
    )
    return issued
