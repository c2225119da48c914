"""Reconciliation: ask providers about payments whose callback never came; find disagreements."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from tikiti.core.errors import NotFound
from tikiti.core.models import Order, Payment, PaymentStatus
from tikiti.core.money import Money
from tikiti.payments.base import PaymentError, Status
from tikiti.payments.service import PaymentRow, Payments

logger = logging.getLogger(__name__)
GIVE_UP_AFTER_EXPIRY = timedelta(minutes=30)
START_GRACE = timedelta(minutes=2)

# Claim due payments and push their next check out (20 s, 40 s, 80 s … at most 10 min), so
# several workers share the work and a crash only delays a check.
_CLAIM = text(
    """
    UPDATE payments SET checks = checks + 1,
           next_check_at = :now + make_interval(secs => LEAST(600, 20 * power(2, checks)))
     WHERE id IN (SELECT id FROM payments
                   WHERE status = 'pending' AND next_check_at <= :now
                   ORDER BY next_check_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
)

_UNSTARTED = text(
    """
    SELECT id FROM payments
     WHERE status = 'pending' AND reference IS NULL AND created_at < :before
     LIMIT :limit
    """
)


@dataclass(frozen=True, slots=True)
class Disagreement:
    payment_id: int
    reference: str
    ours: str
    theirs: str
    detail: str


class Reconciler:
    def __init__(self, payments: Payments) -> None:
        self.payments = payments

    async def run_once(self, *, now: datetime | None = None, limit: int = 50) -> int:
        """One round: returns how many payments were looked at."""
        now = now or datetime.now(UTC)
        async with self.payments.db.transaction() as session:
            due = list((await session.scalars(_CLAIM, {"now": now, "limit": limit})).all())
            unstarted = list(
                (
                    await session.scalars(_UNSTARTED, {"before": now - START_GRACE, "limit": limit})
                ).all()
            )
        for payment_id in unstarted:
            await self.payments.fail(payment_id, "the payment could not be started")
        for payment_id in due:
            await self._check(payment_id, now)
        return len(due) + len(unstarted)

    async def _row(self, payment_id: int) -> tuple[PaymentRow, datetime] | None:
        async with self.payments.db.session() as session:
            found = (
                await session.execute(
                    select(Payment, Order.organizer_id, Order.expires_at)
                    .join(Order, Order.id == Payment.order_id)
                    .where(Payment.id == payment_id)
                )
            ).one_or_none()
        if found is None:
            return None
        payment, organizer_id, expires_at = found
        if payment.reference is None:
            return None
        row = PaymentRow(
            payment.id,
            organizer_id,
            payment.provider,
            payment.reference,
            dict(payment.provider_data),
        )
        return row, expires_at

    async def _check(self, payment_id: int, now: datetime) -> None:
        found = await self._row(payment_id)
        if found is None:
            return
        row, expires_at = found
        try:
            provider = await self.payments.provider_for(row.organizer_id, row.provider)
            report = await provider.query(row.reference, row.stored)
        except (PaymentError, NotFound) as error:
            # A broken account or a provider that is down must not stop the other payments.
            logger.warning("reconcile: payment %s: %s", payment_id, error)
            report = None
            provider = None
        if provider is not None and report is not None and report.status != Status.PENDING:
            await self.payments.apply(row, provider, report, confirm=False)
        elif now > expires_at + GIVE_UP_AFTER_EXPIRY:
            await self.payments.fail(payment_id, "no answer from the provider in time")

    async def disagreements(self, provider_id: str, since: datetime) -> AsyncIterator[Disagreement]:
        """Payments where our ledger and the provider tell different stories (changes nothing)."""
        async with self.payments.db.session() as session:
            rows = (
                await session.execute(
                    select(Payment, Order.organizer_id)
                    .join(Order, Order.id == Payment.order_id)
                    .where(
                        Payment.provider == provider_id,
                        Payment.created_at >= since,
                        Payment.reference.is_not(None),
                    )
                    .order_by(Payment.id)
                )
            ).all()
        for payment, organizer_id in rows:
            try:
                provider = await self.payments.provider_for(organizer_id, provider_id)
                report = await provider.query(payment.reference or "", dict(payment.provider_data))
            except (PaymentError, NotFound) as error:
                yield Disagreement(
                    payment.id, payment.reference or "", payment.status.value, "?", str(error)
                )
                continue
            if found := _compare(payment, report.status, report.amount):
                yield Disagreement(
                    payment.id,
                    payment.reference or "",
                    payment.status.value,
                    report.status.value,
                    found,
                )


def _compare(payment: Payment, theirs: Status, amount: Money | None) -> str:
    ours_paid = payment.status in (
        PaymentStatus.PAID,
        PaymentStatus.REFUNDED,
        PaymentStatus.FLAGGED,
    )
    if theirs == Status.PAID and not ours_paid:
        return "the provider took the money; we did not settle it"
    if theirs != Status.PAID and payment.status == PaymentStatus.PAID:
        return "we settled it; the provider says it is not paid"
    if (
        theirs == Status.PAID
        and amount is not None
        and amount != Money(payment.amount_minor, payment.currency)
    ):
        return (
            f"amounts differ: ours {Money(payment.amount_minor, payment.currency)}, theirs {amount}"
        )
    return ""
