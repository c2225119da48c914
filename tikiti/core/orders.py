"""An order's life after the hold: payment requested, settled once, expired, cancelled, refunded."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, inventory, ledger, resellers
from tikiti.core.codes import ALPHABET
from tikiti.core.errors import InvalidState, NotFound
from tikiti.core.ledger import Leg, Refs
from tikiti.core.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Ticket,
    TicketStatus,
)

OPEN = (OrderStatus.HELD, OrderStatus.AWAITING_PAYMENT)
LAPSED = (OrderStatus.EXPIRED, OrderStatus.CANCELLED)


async def locked_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise NotFound("no such order", order_id=order_id)
    return order


async def request_payment(
    session: AsyncSession,
    *,
    order_id: int,
    provider: str,
    method: str,
    payer_phone: str,
    idempotency_key: str,
) -> Payment:
    """Record that we are about to ask a provider for money; moves no money by itself."""
    existing = await session.scalar(
        select(Payment).where(Payment.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing
    order = await locked_order(session, order_id)
    if order.status not in OPEN:
        raise InvalidState(f"order is {order.status.value}", order_id=order_id)
    payment = Payment(
        order_id=order.id,
        provider=provider,
        method=method,
        merchant_reference="TK" + "".join(secrets.choice(ALPHABET) for _ in range(10)),
        idempotency_key=idempotency_key,
        amount_minor=order.total_minor,
        currency=order.currency,
        payer_phone=payer_phone,
        status=PaymentStatus.PENDING,
    )
    session.add(payment)
    order.status = OrderStatus.AWAITING_PAYMENT
    await session.flush()
    return payment


async def attach_reference(
    session: AsyncSession,
    payment_id: int,
    reference: str,
    *,
    stored: dict[str, str] | None = None,
    instructions: str | None = None,
    next_check_at: datetime | None = None,
) -> None:
    """Remember the provider's reference, by which its callbacks and status queries find it."""
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.reference.is_(None))
        .values(
            reference=reference,
            provider_data=stored or {},
            instructions=instructions,
            next_check_at=next_check_at,
        )
    )


async def cancel(session: AsyncSession, order_id: int, *, actor: str, reason: str) -> None:
    """Give up an unpaid order; its places return at once."""
    order = await locked_order(session, order_id)
    if order.status not in OPEN:
        raise InvalidState(f"order is {order.status.value}", order_id=order_id)
    await inventory.release(session, [order.id])
    order.status = OrderStatus.CANCELLED
    await audit.record(
        session,
        organizer_id=order.organizer_id,
        actor=actor,
        action="order.cancelled",
        entity="order",
        entity_id=order.id,
        data={"reason": reason},
    )


_RELEASE_ORDER_SEATS = text(
    "UPDATE seat_claims SET released_at = now() WHERE released_at IS NULL"
    " AND hold_id IN (SELECT id FROM holds WHERE order_id = :order_id)"
)


async def refund(session: AsyncSession, order_id: int, *, actor: str, reason: str) -> int:
    """Void a paid order's tickets, return their places and owe the buyer; returns the amount."""
    order = await locked_order(session, order_id)
    if order.status not in (OrderStatus.PAID, OrderStatus.FULFILLED):
        raise InvalidState(f"order is {order.status.value}", order_id=order_id)
    voided = (
        await session.scalars(
            update(Ticket)
            .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.VALID)
            .values(status=TicketStatus.REFUNDED)
            .returning(Ticket.id)
        )
    ).all()
    await inventory.unsell(session, list(voided))
    await session.execute(_RELEASE_ORDER_SEATS, {"order_id": order.id})
    paid = (
        await session.scalars(
            select(Payment)
            .where(Payment.order_id == order.id, Payment.status == PaymentStatus.PAID)
            .with_for_update()
        )
    ).all()
    amount = 0
    for payment in paid:
        payment.status = PaymentStatus.REFUNDED
        amount += payment.amount_minor
        await ledger.record(
            session,
            organizer_id=order.organizer_id,
            kind="refund",
            currency=payment.currency,
            legs=[
                Leg(ledger.SALES, payment.amount_minor),
                Leg(ledger.REFUNDS_PAYABLE, -payment.amount_minor),
            ],
            refs=Refs(event_id=order.event_id, order_id=order.id, payment_id=payment.id),
            memo=reason,
        )
    await resellers.reverse_commission(session, order)
    order.status = OrderStatus.REFUNDED
    await audit.record(
        session,
        organizer_id=order.organizer_id,
        actor=actor,
        action="order.refunded",
        entity="order",
        entity_id=order.id,
        data={"reason": reason, "amount_minor": amount, "tickets": len(voided)},
    )
    return amount


_DUE = text(
    """
    SELECT id FROM orders
     WHERE status IN ('held', 'awaiting_payment') AND expires_at <= :now
     ORDER BY expires_at LIMIT :limit
       FOR UPDATE SKIP LOCKED
    """
)


async def expire_due(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """The sweeper: expire lapsed holds, skipping (not waiting on) rows being settled."""
    now = now or datetime.now(UTC)
    order_ids = list((await session.scalars(_DUE, {"now": now, "limit": limit})).all())
    if order_ids:
        await inventory.release(session, order_ids)
        await session.execute(
            update(Order).where(Order.id.in_(order_ids)).values(status=OrderStatus.EXPIRED)
        )
    return order_ids
