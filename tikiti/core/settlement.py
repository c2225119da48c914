"""Believing a provider: settle exactly once, flag mismatches, fail cleanly, owe refunds."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, holds, inventory, ledger, notices, outbox, promos, resellers, tickets
from tikiti.core.errors import NotFound, SoldOut
from tikiti.core.ledger import Leg, Refs
from tikiti.core.models import (
    Event,
    Order,
    OrderStatus,
    Payment,
    PaymentEvent,
    PaymentStatus,
)
from tikiti.core.orders import LAPSED, OPEN, locked_order


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
                Payment.provider == provider,
                or_(Payment.reference == reference, Payment.merchant_reference == reference),
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
    order = await locked_order(session, order_id)  # orders are always locked before payments
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
        except (SoldOut, promos.PromoUsedUp, promos.PromoBuyerLimit):
            return await _refund_due(session, order, payment)
        outcome = Outcome.SETTLED_LATE
    else:
        # Already paid through another payment: this money goes back to the payer.
        return await _refund_due(session, order, payment, duplicate=True)
    order.status = OrderStatus.PAID
    issued = await tickets.issue_for_order(session, order)
    order.status = OrderStatus.FULFILLED
    await resellers.accrue_commission(session, order)
    return Settlement(outcome, order.id, tuple(issued))


async def _refund_due(
    session: AsyncSession, order: Order, payment: Payment, *, duplicate: bool = False
) -> Settlement:
    """Money arrived for places that are gone (or for an order already paid): owe it back and
    tell the payer. A duplicate payment is flagged so that no later refund counts it twice."""
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
    if duplicate:
        payment.status = PaymentStatus.FLAGGED
        payment.failure_reason = "the order was already paid; this payment is owed back"
    else:
        order.status = OrderStatus.REFUND_DUE
        order.flag_reason = "payment arrived after the places were gone; refund owed"
    event_name = await session.scalar(select(Event.name).where(Event.id == order.event_id))
    sms = notices.duplicate_payment_sms if duplicate else notices.refund_due_sms
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="refund_due",
            channel=order.channel,
            address=payment.payer_phone,
            language=order.language,
            body=sms(order.language, event_name=event_name or "", reference=order.reference),
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
    return await fail_payment_id(session, found[0], reason=reason, payload=payload)


async def fail_payment_id(
    session: AsyncSession, payment_id: int, *, reason: str, payload: dict[str, object]
) -> Settlement:
    order_id = await session.scalar(select(Payment.order_id).where(Payment.id == payment_id))
    if order_id is None:
        raise NotFound("no such payment", payment_id=payment_id)
    order = await locked_order(session, order_id)
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    )
    assert payment is not None
    await _keep_raw(session, payment.provider, payment.id, "failed", payload)
    if payment.status != PaymentStatus.PENDING:
        return Settlement(Outcome.IGNORED, order.id)
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason
    payment.next_check_at = None
    if await _another_pending(session, order.id, payment.id):
        return Settlement(Outcome.FAILED, order.id)  # the order waits for the other payment
    if order.status in OPEN:
        await inventory.release(session, [order.id])
        order.status = OrderStatus.CANCELLED
    if order.status in LAPSED:
        await _tell_payment_failed(session, order, payment, reason)
    return Settlement(Outcome.FAILED, order.id)


async def _another_pending(session: AsyncSession, order_id: int, payment_id: int) -> bool:
    found = await session.scalar(
        select(Payment.id).where(
            Payment.order_id == order_id,
            Payment.id != payment_id,
            Payment.status == PaymentStatus.PENDING,
        )
    )
    return found is not None


async def _tell_payment_failed(
    session: AsyncSession, order: Order, payment: Payment, reason: str
) -> None:
    """Said once per payment; a buyer whose order expired meanwhile is told too."""
    event_name = await session.scalar(select(Event.name).where(Event.id == order.event_id))
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="payment_failed",
            channel=order.channel,
            address=order.buyer_phone,
            language=order.language,
            body=notices.payment_failed_sms(
                order.language, event_name=event_name or "", reference=order.reference
            ),
            dedupe_key=f"payment_failed:{payment.id}",
            organizer_id=order.organizer_id,
            order_id=order.id,
        ),
    )


async def note(
    session: AsyncSession, payment_id: int, provider: str, kind: str, payload: dict[str, object]
) -> None:
    """Keep a provider's word that changes nothing (e.g. still pending) for the order's story."""
    await _keep_raw(session, provider, payment_id, kind, payload)


async def record_payout(session: AsyncSession, payment_id: int, *, provider_refund_id: str) -> None:
    """Money owed back has left through the provider: the debt becomes a payment out."""
    payment = await session.get_one(Payment, payment_id)
    organizer_id, event_id = (
        await session.execute(
            select(Order.organizer_id, Order.event_id).where(Order.id == payment.order_id)
        )
    ).one()
    await ledger.record(
        session,
        organizer_id=organizer_id,
        kind="refund_paid",
        currency=payment.currency,
        legs=[
            Leg(ledger.REFUNDS_PAYABLE, payment.amount_minor),
            Leg(ledger.provider_account(payment.provider), -payment.amount_minor),
        ],
        refs=Refs(event_id=event_id, order_id=payment.order_id, payment_id=payment.id),
        memo=f"refund {provider_refund_id}",
    )
