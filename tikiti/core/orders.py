"""An order's life after the hold: payment requested, settled once, expired, cancelled, refunded."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, holds, inventory, ledger, notices, outbox, tickets
from tikiti.core.errors import InvalidState, NotFound, SoldOut
from tikiti.core.ledger import Leg, Refs
from tikiti.core.models import (
    Event,
    Order,
    OrderStatus,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Ticket,
    TicketStatus,
)

OPEN = (OrderStatus.HELD, OrderStatus.AWAITING_PAYMENT)
LAPSED = (OrderStatus.EXPIRED, OrderStatus.CANCELLED)


class Outcome(enum.StrEnum):
    SETTLED = "settled"
    SETTLED_LATE = "settled_late"
    ALREADY_SETTLED = "already_settled"
    REFUND_DUE = "refund_due"
    FLAGGED = "flagged"
    UNKNOWN_PAYMENT = "unknown_payment"
    FAILED = "failed"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Settlement:
    outcome: Outcome
    order_id: int | None = None
    tickets: tuple[tickets.IssuedTicket, ...] = ()


async def _locked_order(session: AsyncSession, order_id: int) -> Order:
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
    order = await _locked_order(session, order_id)
    if order.status not in OPEN:
        raise InvalidState(f"order is {order.status.value}", order_id=order_id)
    payment = Payment(
        order_id=order.id,
        provider=provider,
        method=method,
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


async def attach_reference(session: AsyncSession, payment_id: int, reference: str) -> None:
    """Remember the provider's reference, by which its callbacks will find this payment."""
    await session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.reference.is_(None))
        .values(reference=reference)
    )


async def _keep_raw(
    session: AsyncSession,
    provider: str,
    payment_id: int | None,
    kind: str,
    payload: dict[str, object],
) -> None:
    await session.execute(
        insert(PaymentEvent).values(
            payment_id=payment_id, provider=provider, kind=kind, payload=payload
        )
    )


async def _find_payment_id(
    session: AsyncSession, provider: str, reference: str
) -> tuple[int, int] | None:
    row = (
        await session.execute(
            select(Payment.id, Payment.order_id).where(
                Payment.provider == provider, Payment.reference == reference
            )
        )
    ).one_or_none()
    return None if row is None else (row.id, row.order_id)


async def settle(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    amount_minor: int,
    currency: str,
    payload: dict[str, object],
    now: datetime | None = None,
) -> Settlement:
    """Believe a confirmed payment exactly once; a repeat is a no-op, a mismatch is flagged."""
    now = now or datetime.now(UTC)
    found = await _find_payment_id(session, provider, reference)
    if found is None:
        await _keep_raw(session, provider, None, "unknown_reference", payload)
        return Settlement(Outcome.UNKNOWN_PAYMENT)
    payment_id, order_id = found
    order = await _locked_order(session, order_id)  # orders are always locked before payments
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    assert payment is not None
    await _keep_raw(session, provider, payment.id, "paid", payload)
    if payment.status != PaymentStatus.PENDING and payment.status != PaymentStatus.FAILED:
        return Settlement(Outcome.ALREADY_SETTLED, order.id)
    refs = Refs(event_id=order.event_id, order_id=order.id, payment_id=payment.id)
    if amount_minor != payment.amount_minor or currency != payment.currency:
        return await _flag_mismatch(session, order, payment, amount_minor, currency, refs)
    payment.status = PaymentStatus.PAID
    payment.settled_at = now
    await ledger.record(
        session,
        organizer_id=order.organizer_id,
        kind="payment",
        currency=currency,
        legs=[
            Leg(ledger.provider_account(provider), amount_minor),
            Leg(ledger.SALES, -amount_minor),
        ],
        refs=refs,
    )
    return await _fulfil(session, order, payment, now)


async def _flag_mismatch(
    session: AsyncSession,
    order: Order,
    payment: Payment,
    amount_minor: int,
    currency: str,
    refs: Refs,
) -> Settlement:
    reason = (
        f"provider reported {amount_minor} {currency}, "
        f"order expects {payment.amount_minor} {payment.currency}"
    )
    payment.status = PaymentStatus.FLAGGED
    payment.failure_reason = reason
    order.flag_reason = reason
    if amount_minor > 0:
        await ledger.record(
            session,
            organizer_id=order.organizer_id,
            kind="unmatched_payment",
            currency=currency,
            legs=[
                Leg(ledger.provider_account(payment.provider), amount_minor),
                Leg(ledger.SUSPENSE, -amount_minor),
            ],
            refs=refs,
            memo=reason,
        )
    await audit.record(
        session,
        organizer_id=order.organizer_id,
        actor=f"provider:{payment.provider}",
        action="payment.flagged",
        entity="order",
        entity_id=order.id,
        data={"reason": reason},
    )
    return Settlement(Outcome.FLAGGED, order.id)


async def _fulfil(
    session: AsyncSession, order: Order, payment: Payment, now: datetime
) -> Settlement:
    outcome = Outcome.SETTLED
    if order.status in OPEN:
        await inventory.convert(session, order.id)
    elif order.status in LAPSED:
        try:
            async with session.begin_nested():
                await holds.retake(session, order, now)
                await inventory.convert(session, order.id)
        except SoldOut:
            return await _refund_due(session, order, payment)
        outcome = Outcome.SETTLED_LATE
    else:
        # Already paid through another payment: this money goes back to the payer.
        return await _refund_due(session, order, payment, keep_status=True)
    order.status = OrderStatus.PAID
    issued = await tickets.issue_for_order(session, order)
    order.status = OrderStatus.FULFILLED
    return Settlement(outcome, order.id, tuple(issued))


async def _refund_due(
    session: AsyncSession, order: Order, payment: Payment, *, keep_status: bool = False
) -> Settlement:
    """Money arrived for places that are gone: owe it back and tell the buyer."""
    await ledger.record(
        session,
        organizer_id=order.organizer_id,
        kind="refund_due",
        currency=payment.currency,
        legs=[
            Leg(ledger.SALES, payment.amount_minor),
            Leg(ledger.REFUNDS_PAYABLE, -payment.amount_minor),
        ],
        refs=Refs(event_id=order.event_id, order_id=order.id, payment_id=payment.id),
    )
    if not keep_status:
        order.status = OrderStatus.REFUND_DUE
    order.flag_reason = "payment arrived after the places were gone; refund owed"
    event_name = await session.scalar(select(Event.name).where(Event.id == order.event_id))
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="refund_due",
            channel=order.channel,
            address=payment.payer_phone,
            language=order.language,
            body=notices.refund_due_sms(
                order.language, event_name=event_name or "", reference=order.reference
            ),
            dedupe_key=f"refund_due:{payment.id}",
            organizer_id=order.organizer_id,
            order_id=order.id,
        ),
    )
    return Settlement(Outcome.REFUND_DUE, order.id)


async def fail_payment(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    reason: str,
    payload: dict[str, object],
) -> Settlement:
    """A declined or timed-out payment frees the places; it never un-pays a paid one."""
    found = await _find_payment_id(session, provider, reference)
    if found is None:
        await _keep_raw(session, provider, None, "unknown_reference", payload)
        return Settlement(Outcome.UNKNOWN_PAYMENT)
    payment_id, order_id = found
    order = await _locked_order(session, order_id)
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    assert payment is not None
    await _keep_raw(session, provider, payment.id, "failed", payload)
    if payment.status != PaymentStatus.PENDING:
        return Settlement(Outcome.IGNORED, order.id)
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason
    if order.status in OPEN:
        await inventory.release(session, [order.id])
        order.status = OrderStatus.CANCELLED
    return Settlement(Outcome.FAILED, order.id)


async def cancel(session: AsyncSession, order_id: int, *, actor: str, reason: str) -> None:
    """Give up an unpaid order; its places return at once."""
    order = await _locked_order(session, order_id)
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
    order = await _locked_order(session, order_id)
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
