"""Payments use cases: start a payment, believe a callback; core alone settles."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select

from tikiti.core import orders, payment_accounts, settlement
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Event, Order, Payment, PaymentStatus
from tikiti.core.money import Money
from tikiti.core.ports import PushOutcome as Pushed
from tikiti.core.signing import KeyBox
from tikiti.payments.base import (
    Callback,
    CallbackRejected,
    PaymentError,
    Provider,
    ProviderUnavailable,
    Reply,
    Report,
    StartRequest,
    Status,
)

logger = logging.getLogger(__name__)
FIRST_CHECK = timedelta(seconds=20)


class Verdict(enum.StrEnum):
    APPLIED = "applied"
    UNKNOWN_PROVIDER = "unknown_provider"
    UNKNOWN_PAYMENT = "unknown_payment"
    REJECTED = "rejected"
    NOT_CONFIRMED = "not_confirmed"
    UNAVAILABLE = "unavailable"


HTTP_STATUS = {
    Verdict.UNKNOWN_PROVIDER: 404,
    Verdict.UNKNOWN_PAYMENT: 404,
    Verdict.REJECTED: 403,
    Verdict.NOT_CONFIRMED: 403,
    Verdict.UNAVAILABLE: 503,
}


@dataclass(frozen=True, slots=True)
class CallbackResult:
    verdict: Verdict
    reply: Reply
    outcome: settlement.Outcome | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    """In minor units: what the buyer is owed, what went back through the provider, what is
    left for the organizer to pay out by hand."""

    amount: int
    paid_back: int
    owed: int


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: int
    organizer_id: int
    provider: str
    reference: str
    stored: dict[str, str]


class Payments:
    """Everything between a held order and a settled one; providers never touch orders."""

    def __init__(
        self,
        database: Database,
        keybox: KeyBox,
        providers: Mapping[str, type[Provider]],
        http: aiohttp.ClientSession,
        *,
        public_url: str,
    ) -> None:
        self.db = database
        self.keybox = keybox
        self.providers = dict(providers)
        self.http = http
        self.public_url = public_url.rstrip("/")

    def callback_url(self, provider: str) -> str:
        return f"{self.public_url}/payments/{provider}/callback"

    async def provider_for(self, organizer_id: int, provider: str) -> Provider:
        async with self.db.session() as session:
            account = await payment_accounts.for_provider(
                session, self.keybox, organizer_id, provider
            )
        return self.providers[provider](account.credentials, self.http)

    async def begin(
        self, *, order_id: int, method: str, payer_phone: str, idempotency_key: str
    ) -> int:
        """Record the payment request for an order; the push itself happens in `push`."""
        async with self.db.transaction() as session:
            found = (
                await session.execute(
                    select(Order.organizer_id, Event.payment_methods)
                    .join(Event, Event.id == Order.event_id)
                    .where(Order.id == order_id)
                )
            ).one_or_none()
            if found is None:
                raise NotFound("no such order", order_id=order_id)
            organizer_id, accepted = found
            if method not in accepted:
                raise InvalidInput(f"this event does not take {method}", field="method")
            account = await payment_accounts.for_method(session, self.keybox, organizer_id, method)
            if account.provider not in self.providers:
                raise NotFound(f"{account.provider} is not available here")
            payment = await orders.request_payment(
                session,
                order_id=order_id,
                provider=account.provider,
                method=method,
                payer_phone=payer_phone,
                idempotency_key=idempotency_key,
            )
            return payment.id

    async def _start_request(self, payment_id: int) -> tuple[Payment, int, StartRequest] | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(Payment, Order.organizer_id, Event.name)
                    .join(Order, Order.id == Payment.order_id)
                    .join(Event, Event.id == Order.event_id)
                    .where(Payment.id == payment_id)
                )
            ).one_or_none()
        if row is None:
            return None
        payment, organizer_id, event_name = row
        request = StartRequest(
            payment_id=payment.id,
            merchant_reference=payment.merchant_reference,
            amount=Money(payment.amount_minor, payment.currency),
            payer_phone=payment.payer_phone,
            method=payment.method,
            description=f"Tickets: {event_name}"[:60],
            callback_url=self.callback_url(payment.provider),
        )
        return payment, organizer_id, request

    async def push(self, payment_id: int) -> Pushed:
        """Ask the provider for the PIN prompt; idempotent, and never run inside a USSD hop."""
        found = await self._start_request(payment_id)
        if found is None:
            return Pushed(False, error="no such payment")
        payment, organizer_id, request = found
        if payment.reference is not None or payment.status != PaymentStatus.PENDING:
            return Pushed(payment.status == PaymentStatus.PENDING, payment.instructions or "")
        try:
            provider = await self.provider_for(organizer_id, payment.provider)
            attempt = await provider.start(request)
        except (PaymentError, NotFound) as error:
            logger.warning("payment %s could not start: %s", payment_id, error)
            if isinstance(error, ProviderUnavailable):
                # The prompt may have gone out all the same: a callback naming our reference
                # must still find this payment, and settles it late if the payer approved.
                async with self.db.transaction() as session:
                    await orders.attach_reference(session, payment_id, payment.merchant_reference)
            await self.fail(payment_id, f"could not start: {error}")
            return Pushed(False, error=getattr(error, "code", "payment_error"))
        async with self.db.transaction() as session:
            await orders.attach_reference(
                session,
                payment_id,
                attempt.provider_reference,
                stored=attempt.stored,
                instructions=attempt.instructions,
                next_check_at=datetime.now(UTC) + FIRST_CHECK,
            )
        return Pushed(True, attempt.instructions)

    async def fail(
        self, payment_id: int, reason: str, payload: dict[str, object] | None = None
    ) -> settlement.Settlement:
        async with self.db.transaction() as session:
            return await settlement.fail_payment_id(
                session, payment_id, reason=reason, payload=payload or {}
            )

    async def _find(self, provider: str, reference: str) -> PaymentRow | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(Payment.id, Order.organizer_id, Payment.reference, Payment.provider_data)
                    .join(Order, Order.id == Payment.order_id)
                    .where(
                        Payment.provider == provider,
                        (Payment.reference == reference)
                        | (Payment.merchant_reference == reference),
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return PaymentRow(
            row.id, row.organizer_id, provider, row.reference or "", dict(row.provider_data)
        )

    async def handle_callback(self, provider_id: str, callback: Callback) -> CallbackResult:
        """Verify, confirm where the provider's word alone is not proof, then let core settle."""
        cls = self.providers.get(provider_id)
        if cls is None:
            return CallbackResult(Verdict.UNKNOWN_PROVIDER, Reply(404, body="unknown provider"))
        try:
            reference = cls.reference_of(callback)
        except CallbackRejected as error:
            logger.warning("%s callback refused: %s", provider_id, error)
            return CallbackResult(Verdict.REJECTED, Reply(400, body="malformed callback"))
        row = await self._find(provider_id, reference)
        if row is None:
            logger.warning("%s callback for unknown reference %r", provider_id, reference[:60])
            return CallbackResult(Verdict.UNKNOWN_PAYMENT, Reply(404, body="unknown payment"))
        if not row.reference:
            # The provider answered before we stored its reference: ask it to call again.
            logger.info(
                "%s callback for payment %s came before its start finished", provider_id, row.id
            )
            return CallbackResult(Verdict.UNAVAILABLE, Reply(503, body="try again shortly"))
        try:
            provider = await self.provider_for(row.organizer_id, provider_id)
        except (NotFound, PaymentError) as error:
            logger.error(
                "cannot check a %s callback for payment %s: %s", provider_id, row.id, error
            )
            return CallbackResult(Verdict.UNAVAILABLE, Reply(503, body="try again later"))
        try:
            report = provider.verify(callback, row.stored)
        except CallbackRejected as error:
            logger.warning("%s callback for payment %s refused: %s", provider_id, row.id, error)
            return CallbackResult(Verdict.REJECTED, Reply(403, body="verification failed"))
        return await self.apply(row, provider, report, confirm=cls.confirm_callbacks)

    async def apply(
        self, row: PaymentRow, provider: Provider, report: Report, *, confirm: bool
    ) -> CallbackResult:
        if report.status == Status.PAID and confirm:
            try:
                confirmed = await provider.query(row.reference, row.stored)
            except ProviderUnavailable as error:
                logger.warning("could not confirm payment %s: %s", row.id, error)
                return CallbackResult(Verdict.UNAVAILABLE, Reply(503, body="try again later"))
            if confirmed.status != Status.PAID:
                logger.warning(
                    "payment %s: callback says paid, provider says %s", row.id, confirmed.status
                )
                return CallbackResult(Verdict.NOT_CONFIRMED, Reply(403, body="not confirmed"))
            report = Report(
                row.reference,
                Status.PAID,
                confirmed.amount or report.amount,
                report.reason,
                report.raw,
            )
        if report.status == Status.PAID and report.amount is None and provider.amount_fixed:
            report = replace(report, amount=await self._requested(row.id))
        outcome = await self._record(row, report)
        return CallbackResult(Verdict.APPLIED, provider.acknowledge(report), outcome)

    async def _requested(self, payment_id: int) -> Money:
        """The amount we asked for: all a fixed-amount push (M-Pesa STK) can have paid."""
        async with self.db.session() as session:
            payment = await session.get_one(Payment, payment_id)
        return Money(payment.amount_minor, payment.currency)

    async def _record(self, row: PaymentRow, report: Report) -> settlement.Outcome:
        async with self.db.transaction() as session:
            if report.status == Status.PAID and report.amount is not None:
                result = await settlement.settle(
                    session,
                    provider=row.provider,
                    reference=row.reference,
                    amount_minor=report.amount.minor,
                    currency=report.amount.currency,
                    payload=report.raw,
                )
            elif report.status == Status.FAILED:
                result = await settlement.fail_payment_id(
                    session, row.id, reason=report.reason or "failed", payload=report.raw
                )
            else:
                await settlement.note(session, row.id, row.provider, "pending", report.raw)
                return settlement.Outcome.IGNORED
        logger.info("payment %s: %s", row.id, result.outcome)
        return result.outcome

    async def refund(self, order_id: int, *, actor: str, reason: str) -> RefundResult:
        """Void the tickets and owe the money, then pay it back where the provider can."""
        async with self.db.transaction() as session:
            amount = await orders.refund(session, order_id, actor=actor, reason=reason)
            paid = (
                await session.execute(
                    select(Payment, Order.organizer_id)
                    .join(Order, Order.id == Payment.order_id)
                    .where(Payment.order_id == order_id, Payment.status == PaymentStatus.REFUNDED)
                )
            ).all()
        owed = 0
        for payment, organizer_id in paid:
            if not await self._pay_back(payment, organizer_id):
                owed += payment.amount_minor
        return RefundResult(amount, amount - owed, owed)

    async def _pay_back(self, payment: Payment, organizer_id: int) -> bool:
        provider = await self.provider_for(organizer_id, payment.provider)
        try:
            refund_id = await provider.refund(
                payment.reference or "",
                Money(payment.amount_minor, payment.currency),
                dict(payment.provider_data),
            )
        except PaymentError as error:
            # No refund API, or it failed: the debt stays on refunds_payable for a manual payout.
            logger.warning("refund of payment %s left owed: %s", payment.id, error)
            return False
        async with self.db.transaction() as session:
            await settlement.record_payout(session, payment.id, provider_refund_id=refund_id)
        return True
