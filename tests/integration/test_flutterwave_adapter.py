"""The real Flutterwave adapter against the local fake, with a tiny webhook endpoint of our own."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.flutterwave import FakeFlutterwave
from tikiti.core.money import Money
from tikiti.payments.base import (
    Attempt,
    Callback,
    CallbackRejected,
    PaymentDeclined,
    ProviderUnavailable,
    Report,
    StartRequest,
    Status,
)
from tikiti.payments.flutterwave import Flutterwave

UGX_20000 = Money(20000, "UGX")


@dataclass
class Inbox:
    """What our webhook endpoint believed and what it turned away."""

    reports: list[Report] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


@pytest.fixture
async def fake() -> AsyncIterator[FakeFlutterwave]:
    server = FakeFlutterwave()
    server.stall_seconds = 1.0
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def adapter(fake: FakeFlutterwave, http: aiohttp.ClientSession) -> Flutterwave:
    return Flutterwave(fake.credentials(), http)


@pytest.fixture
async def inbox(fake: FakeFlutterwave, adapter: Flutterwave) -> AsyncIterator[Inbox]:
    """Our side of the webhook: verify, answer 200 or 401, and remember the outcome."""
    received = Inbox()

    async def receive(request: web.Request) -> web.Response:
        callback = Callback(
            dict(request.headers), await request.read(), dict(request.query), str(request.url)
        )
        try:
            adapter.reference_of(callback)
            report = adapter.verify(callback, {})
        except CallbackRejected as exc:
            received.rejected.append(str(exc))
            return web.Response(status=401, text="rejected")
        received.reports.append(report)
        reply = adapter.acknowledge(report)
        return web.Response(status=reply.status, content_type=reply.content_type, text=reply.body)

    app = web.Application()
    app.router.add_post("/webhooks/flutterwave", receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.webhook_url = str(server.make_url("/webhooks/flutterwave"))
    yield received
    await server.close()


def start_request(amount: Money = UGX_20000, method: str = "mtn") -> StartRequest:
    reference = "FW" + secrets.token_hex(5).upper()  # 12 characters, like ours
    return StartRequest(1, reference, amount, "+256772123456", method, "2 x Regular", "")


async def started(adapter: Flutterwave, amount: Money = UGX_20000, method: str = "mtn") -> Attempt:
    return await adapter.start(start_request(amount, method))


PAID_DATA = {"id": 5, "tx_ref": "FWX", "amount": 20000, "currency": "UGX", "status": "successful"}


def webhook(
    secret: str | None, event: str = "charge.completed", header: str = "verif-hash", **data: object
) -> Callback:
    """A webhook as our endpoint would receive it, with PAID_DATA overridden by `data`."""
    body = json.dumps({"event": event, "data": {**PAID_DATA, **data}}).encode()
    headers = {} if secret is None else {header: secret}
    return Callback(headers, body, {}, "https://tikiti.invalid/webhooks")


async def test_start_sends_the_charge_and_returns_instructions(
    adapter: Flutterwave, fake: FakeFlutterwave
) -> None:
    request = start_request()
    attempt = await adapter.start(request)
    assert attempt.provider_reference == request.merchant_reference
    assert attempt.instructions == "Approve the MTN prompt on your phone to pay UGX 20,000"
    assert attempt.instructions.isascii() and len(attempt.instructions) <= 160
    charge_type, body = fake.charges[-1]
    assert charge_type == "mobile_money_uganda" and body["email"] == "payments@tikiti.invalid"
    assert body["amount"] == 20000 and body["currency"] == "UGX"  # major units, exponent 0
    assert body["phone_number"] == "256772123456" and body["network"] == "MTN"
    tx = fake.by_reference(request.merchant_reference)
    assert tx is not None and attempt.stored["flw_id"] == str(tx.id)
    assert attempt.stored["currency"] == "UGX" and "redirect_url" in attempt.stored
    with pytest.raises(PaymentDeclined, match="Duplicate"):  # FW's own refusal, its message
        await adapter.start(request)


async def test_kes_goes_to_mpesa_with_exact_decimals(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox
) -> None:
    attempt = await started(adapter, amount=Money(150050, "KES"), method="mpesa_fw")
    charge_type, body = fake.charges[-1]
    assert charge_type == "mpesa" and body["amount"] == "1500.50"
    await fake.complete(attempt.provider_reference, paid=True)
    report = await adapter.query(attempt.provider_reference, attempt.stored)
    assert report.status is Status.PAID and report.amount == Money(150050, "KES")


@pytest.mark.parametrize(
    ("amount", "method"),
    [(Money(2000, "USD"), "mtn"), (Money(2000, "KES"), "mtn"), (UGX_20000, "mpesa_fw")],
)
async def test_unsupported_currency_or_method_is_declined_before_any_call(
    adapter: Flutterwave, fake: FakeFlutterwave, amount: Money, method: str
) -> None:
    with pytest.raises(PaymentDeclined):
        await adapter.start(start_request(amount, method))
    assert fake.charges == []


async def test_webhook_with_the_secret_hash_reports_paid_in_ugx(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox
) -> None:
    attempt = await started(adapter)
    assert await fake.complete(attempt.provider_reference, paid=True) == 200
    [report] = inbox.reports
    assert report.provider_reference == attempt.provider_reference
    assert report.status is Status.PAID
    assert report.amount == UGX_20000  # exponent 0: 20000 shillings is 20000 minor units
    assert report.raw["flw_id"] == attempt.stored["flw_id"]


async def test_webhook_reads_float_amounts_and_any_header_case(
    adapter: Flutterwave, fake: FakeFlutterwave
) -> None:
    report = adapter.verify(webhook(fake.secret_hash, header="Verif-Hash", amount=20000.0), {})
    assert report.amount == UGX_20000 and report.raw["flw_id"] == "5"


async def test_forged_webhook_is_rejected(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox
) -> None:
    attempt = await started(adapter)
    headers, body, url = fake.forged_callback(attempt.provider_reference)
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers):
        pass
    assert inbox.reports == [] and len(inbox.rejected) == 1
    forged = Callback(headers, body, {}, url)
    assert adapter.reference_of(forged) == attempt.provider_reference  # untrusted, yet readable
    with pytest.raises(CallbackRejected):
        adapter.verify(forged, {})


@pytest.mark.parametrize("secret", [None, "", "wrong"])
async def test_missing_or_wrong_hash_is_rejected(adapter: Flutterwave, secret: str | None) -> None:
    with pytest.raises(CallbackRejected):
        adapter.verify(webhook(secret), {})


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"event": "charge.completed"}', b'{"data": {"tx_ref": 7}}']
)
async def test_malformed_webhook_is_rejected(
    adapter: Flutterwave, fake: FakeFlutterwave, body: bytes
) -> None:
    callback = Callback({"verif-hash": fake.secret_hash}, body, {}, "https://tikiti.invalid/w")
    with pytest.raises(CallbackRejected):
        adapter.reference_of(callback)
    with pytest.raises(CallbackRejected):
        adapter.verify(callback, {})


@pytest.mark.parametrize(
    "change",
    [{"event": "transfer.completed"}, {"amount": "20000.5"}, {"amount": None}, {"currency": "X"}],
)
async def test_other_events_and_bad_amounts_are_rejected(
    adapter: Flutterwave, fake: FakeFlutterwave, change: dict[str, object]
) -> None:
    with pytest.raises(CallbackRejected):  # UGX has no decimals: never round a payment
        adapter.verify(webhook(fake.secret_hash, **change), {})  # type: ignore[arg-type]


@pytest.mark.parametrize("with_id", [True, False])
async def test_query_follows_the_charge(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox, with_id: bool
) -> None:
    fake.reply_with_data = with_id  # without data.id the adapter verifies by tx_ref
    attempt = await started(adapter)
    assert ("flw_id" in attempt.stored) is with_id
    pending = await adapter.query(attempt.provider_reference, attempt.stored)
    assert pending.status is Status.PENDING and pending.amount is None
    await fake.complete(attempt.provider_reference, paid=True)
    paid = await adapter.query(attempt.provider_reference, attempt.stored)
    assert paid.status is Status.PAID and paid.amount == UGX_20000


async def test_failed_payment_is_reported_by_webhook_and_query(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox
) -> None:
    attempt = await started(adapter)
    assert await fake.complete(attempt.provider_reference, paid=False) == 200
    assert [r.status for r in inbox.reports] == [Status.FAILED]
    report = await adapter.query(attempt.provider_reference, attempt.stored)
    assert report.status is Status.FAILED


async def test_query_reports_the_real_amount_when_less_was_paid(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox
) -> None:
    attempt = await started(adapter)
    await fake.complete(attempt.provider_reference, paid=True, amount_minor=15000)
    assert inbox.reports[0].amount == Money(15000, "UGX")
    report = await adapter.query(attempt.provider_reference, attempt.stored)
    assert report.status is Status.PAID and report.amount == Money(15000, "UGX")
    assert report.amount < UGX_20000  # the service refuses to settle this


async def test_an_answer_about_another_transaction_is_not_believed(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox
) -> None:
    ours, theirs = await started(adapter), await started(adapter)
    await fake.complete(theirs.provider_reference, paid=True)
    with pytest.raises(ProviderUnavailable, match="another transaction"):
        await adapter.query(ours.provider_reference, theirs.stored)


async def test_query_of_an_unknown_charge_waits_then_fails(adapter: Flutterwave) -> None:
    fresh = await adapter.query("FWNOSUCH", {"started_at": str(int(time.time()))})
    assert fresh.status is Status.PENDING and fresh.reason == "not found yet"
    old = await adapter.query("FWNOSUCH", {"started_at": str(int(time.time()) - 3600)})
    assert old.status is Status.FAILED and old.reason == "not found"
    assert (await adapter.query("FWNOSUCH", {})).status is Status.FAILED


@pytest.mark.parametrize("with_id", [True, False])
async def test_refund(
    adapter: Flutterwave, fake: FakeFlutterwave, inbox: Inbox, with_id: bool
) -> None:
    fake.reply_with_data = with_id  # without a stored id the adapter looks it up first
    attempt = await started(adapter)
    await fake.complete(attempt.provider_reference, paid=True)
    assert await adapter.refund(attempt.provider_reference, UGX_20000, attempt.stored)
    tx = fake.by_reference(attempt.provider_reference)
    assert tx is not None and [int(r) for r in tx.refunds] == [20000]
    with pytest.raises(PaymentDeclined):  # FW refuses to refund more than was paid
        await adapter.refund(attempt.provider_reference, UGX_20000, attempt.stored)


async def test_server_error_is_provider_unavailable(
    adapter: Flutterwave, fake: FakeFlutterwave
) -> None:
    fake.fail_next = 1
    with pytest.raises(ProviderUnavailable):
        await started(adapter)
    attempt = await started(adapter)  # the next call goes through
    fake.fail_next = 1
    with pytest.raises(ProviderUnavailable):
        await adapter.query(attempt.provider_reference, attempt.stored)


async def test_stall_is_provider_unavailable(
    fake: FakeFlutterwave, http: aiohttp.ClientSession
) -> None:
    quick = Flutterwave(fake.credentials(), http, limits=aiohttp.ClientTimeout(total=0.3))
    fake.stall_next = 1
    with pytest.raises(ProviderUnavailable):
        await started(quick)
