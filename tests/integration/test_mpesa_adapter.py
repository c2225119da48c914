"""The real M-Pesa adapter against the fake Daraja, with a local server standing in for us."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from tests.fakes.mpesa import EAT, FakeMpesa
from tikiti.core.money import Money
from tikiti.payments.base import (
    Attempt,
    Callback,
    CallbackRejected,
    PaymentDeclined,
    PaymentError,
    ProviderUnavailable,
    Reply,
    StartRequest,
    Status,
)
from tikiti.payments.mpesa import Mpesa


class Receiver:
    """Our callback endpoint reduced to its wire behaviour: record, then acknowledge."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.received: list[Callback] = []
        app = web.Application()
        app.router.add_post("/payments/mpesa/callback", self._record)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("/payments/mpesa/callback").with_query(payment="7"))

    async def _record(self, request: web.Request) -> web.Response:
        body, query = await request.read(), dict(request.query)
        self.received.append(Callback(dict(request.headers), body, query, str(request.url)))
        reply = self.reply
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)


@dataclass
class World:
    """One test's world: the fake Daraja, the adapter talking to it, and our endpoint."""

    fake: FakeMpesa
    http: aiohttp.ClientSession
    receiver: Receiver
    mpesa: Mpesa

    def adapter(self, seconds: float = 5, **credentials: str) -> Mpesa:
        limits = aiohttp.ClientTimeout(total=seconds)
        return Mpesa(self.fake.credentials() | credentials, self.http, limits=limits)

    def purchase(self, amount: Money | None = None, **changes: Any) -> StartRequest:
        amount = Money(50000, "KES") if amount is None else amount
        reference, url = "TK" + secrets.token_hex(5).upper(), self.receiver.url
        request = StartRequest(7, reference, amount, "+254708374149", "mpesa", "2 tickets", url)
        return replace(request, **changes)

    async def start(self, amount: Money | None = None, **changes: Any) -> Attempt:
        return await self.mpesa.start(self.purchase(amount, **changes))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    fake = FakeMpesa()
    fake.stall_seconds = 1.5  # past the short client timeout below, not past the test
    await fake.start()
    async with aiohttp.ClientSession() as http:
        mpesa = Mpesa(fake.credentials(), http, limits=aiohttp.ClientTimeout(total=5))
        receiver = Receiver(mpesa.acknowledge(None))
        await receiver.server.start_server()
        yield World(fake, http, receiver, mpesa)
        await receiver.server.close()
    await fake.stop()


def stk_callback(stk: dict[str, object]) -> Callback:
    body = json.dumps({"Body": {"stkCallback": stk}}).encode()
    return Callback({}, body, {"t": "x"}, "/")


async def test_twenty_concurrent_starts_fetch_one_token(world: World) -> None:
    attempts = await asyncio.gather(*(world.start() for _ in range(20)))
    assert world.fake.token_requests == 1
    assert len({a.provider_reference for a in attempts}) == 20


async def test_token_is_fetched_again_after_it_expires(world: World) -> None:
    world.fake.expires_in = "61"  # the adapter keeps it for 61 - 60 = 1 second
    await world.start()
    await world.start()
    assert world.fake.token_requests == 1
    await asyncio.sleep(1.1)
    await world.start()
    assert world.fake.token_requests == 2


async def test_token_refused_with_401_is_replaced_once(world: World) -> None:
    attempt = await world.start()
    world.fake.revoke_tokens()
    await world.start()  # answered 401 first, then accepted with a fresh token
    world.fake.revoke_tokens()
    report = await world.mpesa.query(attempt.provider_reference, attempt.stored)
    assert report.status is Status.PENDING
    assert world.fake.token_requests == 3


async def test_wrong_consumer_secret_is_a_configuration_error(world: World) -> None:
    with pytest.raises(PaymentError, match="credentials") as caught:
        await world.adapter(consumer_secret="guessed").start(world.purchase())
    assert type(caught.value) is PaymentError  # neither declined nor worth retrying


async def test_start_returns_checkout_request_id_and_callback_token(world: World) -> None:
    attempt = await world.start(Money(150000, "KES"))
    assert attempt.provider_reference.startswith("ws_CO_")
    assert attempt.instructions == "Enter your M-Pesa PIN on your phone to pay KES 1,500"
    assert len(attempt.stored["callback_token"]) >= 32
    push = world.fake.pushes[attempt.provider_reference]
    assert attempt.stored["merchant_request_id"] == push.merchant_request_id
    sent = URL(push.body["CallBackURL"])
    assert sent.query["t"] == attempt.stored["callback_token"]
    assert sent.query["payment"] == "7"  # the service's own parameters survive


async def test_push_body_is_signed_in_kenyan_time(world: World) -> None:
    attempt = await world.start(merchant_reference="TKT-LONGER-THAN-12")
    body = world.fake.pushes[attempt.provider_reference].body
    stamp = body["Timestamp"]
    assert len(stamp) == 14 and stamp.isdigit()
    sent = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)
    password = base64.b64decode(body["Password"]).decode()
    assert password == world.fake.shortcode + world.fake.passkey + stamp
    assert body["Amount"] == "500"
    assert body["PartyA"] == body["PhoneNumber"] == "254708374149"
    assert body["PartyB"] == body["BusinessShortCode"] == "174379"
    assert body["TransactionType"] == "CustomerPayBillOnline"
    assert body["AccountReference"] == "TKT-LONGER-T"
    assert len(body["TransactionDesc"]) <= 13


async def test_buy_goods_pays_the_till(world: World) -> None:
    world.fake.till = "600100"
    buy_goods = world.adapter(transaction_type="CustomerBuyGoodsOnline", till="600100")
    attempt = await buy_goods.start(world.purchase())
    assert world.fake.pushes[attempt.provider_reference].body["PartyB"] == "600100"


async def test_query_is_pending_until_the_payer_pays(world: World) -> None:
    attempt = await world.start()
    pending = await world.mpesa.query(attempt.provider_reference, attempt.stored)
    assert pending.status is Status.PENDING
    assert await world.fake.complete(attempt.provider_reference, paid=True) == 200
    paid = await world.mpesa.query(attempt.provider_reference, attempt.stored)
    assert paid.status is Status.PAID
    assert paid.amount is None  # the query reply has no amount; the callback's is used


async def test_declined_push_is_failed_in_callback_and_query(world: World) -> None:
    attempt = await world.start()
    await world.fake.complete(attempt.provider_reference, paid=False)
    told = world.mpesa.verify(world.receiver.received[0], attempt.stored)
    asked = await world.mpesa.query(attempt.provider_reference, attempt.stored)
    assert (told.status, told.reason, told.amount) == (Status.FAILED, "cancelled", None)
    assert (asked.status, asked.reason) == (Status.FAILED, "cancelled")


async def test_query_server_error_is_unavailable_not_pending(world: World) -> None:
    attempt = await world.start()
    world.fake.fail_next = 1
    with pytest.raises(ProviderUnavailable):
        await world.mpesa.query(attempt.provider_reference, attempt.stored)


async def test_callback_with_its_token_verifies_as_paid_with_money(world: World) -> None:
    attempt = await world.start()
    assert await world.fake.complete(attempt.provider_reference, paid=True) == 200
    (callback,) = world.receiver.received
    assert Mpesa.reference_of(callback) == attempt.provider_reference
    report = world.mpesa.verify(callback, attempt.stored)
    assert report.status is Status.PAID
    assert report.amount == Money(50000, "KES")
    assert isinstance(report.raw["MpesaReceiptNumber"], str)
    assert json.loads(world.receiver.reply.body) == {"ResultCode": 0, "ResultDesc": "Accepted"}


async def test_callback_amount_is_what_the_callback_says(world: World) -> None:
    attempt = await world.start()
    await world.fake.complete(attempt.provider_reference, paid=True, amount_minor=100)
    report = world.mpesa.verify(world.receiver.received[0], attempt.stored)
    assert report.amount == Money(100, "KES")  # the service compares it with the order


async def test_forged_callback_with_guessed_token_is_rejected(world: World) -> None:
    attempt = await world.start()
    headers, body, url = world.fake.forged_callback(attempt.provider_reference)
    forged = Callback(headers, body, dict(URL(url).query), url)
    assert Mpesa.reference_of(forged) == attempt.provider_reference
    with pytest.raises(CallbackRejected):
        world.mpesa.verify(forged, attempt.stored)


async def test_callback_without_its_own_token_is_rejected(world: World) -> None:
    first, second = [await world.start() for _ in range(2)]
    await world.fake.complete(first.provider_reference, paid=True)
    real = world.receiver.received[0]
    untokened = Callback(real.headers, real.body, {}, real.url.split("&t=")[0])
    for callback, stored in [(untokened, first.stored), (real, second.stored), (real, {})]:
        with pytest.raises(CallbackRejected):
            world.mpesa.verify(callback, stored)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"Body": []}',
        b'{"Body": {"stkCallback": {"ResultCode": 0}}}',
        b'{"Body": {"stkCallback": {"CheckoutRequestID": 12}}}',
        b"[" * 10_000,  # deep enough to exhaust the JSON decoder's recursion
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "x": "%s"}}}' % (b"x" * 20_000),
    ],
)
async def test_malformed_callbacks_are_rejected(world: World, body: bytes) -> None:
    callback = Callback({}, body, {"t": "token"}, world.receiver.url)
    with pytest.raises(CallbackRejected):
        Mpesa.reference_of(callback)
    with pytest.raises(CallbackRejected):
        world.mpesa.verify(callback, {"callback_token": "token"})


async def test_callback_with_unreadable_result_code_is_rejected(world: World) -> None:
    callback = stk_callback({"CheckoutRequestID": "ws_CO_1", "ResultCode": "paid"})
    with pytest.raises(CallbackRejected):
        world.mpesa.verify(callback, {"callback_token": "x"})


async def test_metadata_items_are_read_by_name(world: World) -> None:
    items = [{"Name": "Balance"}, {"Name": "Amount", "Value": 250.0}, {"Value": 3}]
    stk = {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0, "CallbackMetadata": {"Item": items}}
    report = world.mpesa.verify(stk_callback(stk), {"callback_token": "x"})
    assert report.amount == Money(25000, "KES")


@pytest.mark.parametrize(
    "amount", [Money(50050, "KES"), Money(500, "USD"), Money(0, "KES"), Money(-100, "KES")]
)
async def test_uncollectable_amount_is_declined_unsent(world: World, amount: Money) -> None:
    with pytest.raises(PaymentDeclined, match="whole KES"):
        await world.start(amount)
    assert world.fake.token_requests == 0 and not world.fake.pushes


async def test_non_kenyan_phone_is_declined(world: World) -> None:
    with pytest.raises(PaymentDeclined, match="Safaricom"):
        await world.start(payer_phone="+263771111111")


async def test_daraja_error_body_on_push_is_declined(world: World) -> None:
    world.fake.refuse_next = "Bad Request - Invalid PhoneNumber"
    with pytest.raises(PaymentDeclined, match="Invalid PhoneNumber"):
        await world.start()


async def test_server_error_is_unavailable(world: World) -> None:
    await world.start()  # the token is cached, so the push itself meets the 500
    world.fake.fail_next = 1
    with pytest.raises(ProviderUnavailable):
        await world.start()


async def test_stalled_daraja_is_unavailable_within_the_timeout(world: World) -> None:
    impatient = world.adapter(seconds=0.3)
    world.fake.stall_next = 1
    began = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        await impatient.start(world.purchase())
    assert time.monotonic() - began < 1.2  # well before the 1.5 s stall ends
