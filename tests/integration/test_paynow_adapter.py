"""The Paynow adapter against a local fake Paynow, with a tiny server playing our endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.paynow import FakePaynow
from tikiti.core.money import Money
from tikiti.payments.base import (
    Attempt,
    Callback,
    CallbackRejected,
    PaymentDeclined,
    PaymentError,
    ProviderUnavailable,
    RefundUnsupported,
    StartRequest,
    Status,
)
from tikiti.payments.paynow import Paynow, local_phone, paynow_hash

DOCS_KEY = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977"
DOCS_CREDENTIALS = {"integration_id": "1201", "integration_key": DOCS_KEY, "auth_email": "a@b.c"}
FAST = aiohttp.ClientTimeout(total=1, connect=1)
_numbers = itertools.count(1)


@dataclass
class Rig:
    """The fake, the adapter pointed at it, and the endpoint its callbacks reach."""

    fake: FakePaynow
    paynow: Paynow
    callback_url: str
    received: list[Callback]

    async def start(self, phone: str = "+263771111111", minor: int = 1000) -> tuple[str, Attempt]:
        number = next(_numbers)
        request = StartRequest(
            payment_id=number,
            merchant_reference=f"TK{number:06d}",
            amount=Money(minor, "USD"),
            payer_phone=phone,
            method="ecocash",
            description="Ticket, Harare Jazz Night",
            callback_url=self.callback_url,
        )
        return request.merchant_reference, await self.paynow.start(request)

    def callback(self, reference: str) -> Callback:
        return [c for c in self.received if Paynow.reference_of(c) == reference][-1]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakePaynow]:
    server = FakePaynow()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def endpoint() -> AsyncIterator[tuple[str, list[Callback]]]:
    """Our callback endpoint, reduced to recording what arrives."""
    received: list[Callback] = []

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        received.append(
            Callback(dict(request.headers), body, dict(request.query), str(request.url))
        )
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/paynow/result", record)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/paynow/result")), received


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def rig(fake: FakePaynow, http: aiohttp.ClientSession, endpoint: tuple[str, list[Callback]]) -> Rig:
    fake.fail_next = fake.stall_next = 0
    return Rig(fake, Paynow(fake.credentials(), http, limits=FAST), *endpoint)


def test_hash_matches_the_published_examples() -> None:
    """Paynow's two worked examples (docs/generating_hash.html), taken as wire text."""
    outbound = parse_qsl(
        "id=1201&reference=TEST+REF&amount=99.99&additionalinfo=A+test+ticket+transaction"
        "&returnurl=http%3a%2f%2fwww.google.com%2fsearch%3fq%3dreturnurl"
        "&resulturl=http%3a%2f%2fwww.google.com%2fsearch%3fq%3dresulturl&status=Message"
    )
    assert paynow_hash(outbound, DOCS_KEY) == (
        "2A033FC38798D913D42ECB786B9B19645ADEDBDE788862032F1BD82CF3B92DEF"
        "84F316385D5B40DBB35F1A4FD7D5BFE73835174136463CDD48C9366B0749C689"
    )
    inbound = parse_qsl(
        "status=Ok&browserurl=https%3a%2f%2fstaging.paynow.co.zw%2fPayment%2fConfirmPayment%2f9510"
        "&pollurl=https%3a%2f%2fstaging.paynow.co.zw%2fInterface%2fCheckPayment%2f%3fguid%3d"
        "c7ed41da-0159-46da-b428-69549f770413&paynowreference=9510&hash=750DD0B0DF374678707BB5AF"
        "915AF81C228B9058AD57BB7120569EC68BBB9C2EFC1B26C6375D2BC562AC909B3CD6B2AF1D42E1A5E479FFAC"
        "8F4FB3FDCE71DF4D"
    )
    assert paynow_hash(inbound, DOCS_KEY) == dict(inbound)["hash"]


async def test_official_sdk_agrees_with_adapter_and_fake(rig: Rig) -> None:
    """The SDK that works against real Paynow hashes as we do and accepts the fake's replies."""
    sdk = pytest.importorskip("paynow", reason="the official paynow SDK is not installed")
    await rig.start()
    fake, form = rig.fake, rig.fake.received[-1]
    client = sdk.Paynow(fake.integration_id, fake.integration_key, "http://r/x", rig.callback_url)
    assert client._Paynow__hash(dict(form), DOCS_KEY) == paynow_hash(form, DOCS_KEY)
    assert client._Paynow__hash(dict(form), fake.integration_key) == dict(form)["hash"]
    client.URL_INITIATE_MOBILE_TRANSACTION = f"{fake.base_url}/interface/remotetransaction"
    payment = client.create_payment("SDK0001", fake.auth_email)
    payment.add("Ticket", 10)
    reply = await asyncio.to_thread(client.send_mobile, payment, "0771111111", "ecocash")
    assert reply.success and reply.poll_url.startswith(fake.base_url), reply.data


async def test_start_sends_the_documented_form(rig: Rig) -> None:
    reference, attempt = await rig.start()
    assert attempt.provider_reference == reference
    assert attempt.stored["pollurl"].startswith(f"{rig.fake.base_url}/interface/poll/")
    assert attempt.stored["paynowreference"] == rig.fake.transactions[reference].paynow_reference
    assert attempt.instructions == "Approve the EcoCash prompt on 0771111111 to pay USD 10.00"
    form = dict(rig.fake.received[-1])
    assert [name for name, _ in rig.fake.received[-1]] == [
        "id", "reference", "amount", "additionalinfo", "returnurl", "resulturl",
        "authemail", "phone", "method", "status", "hash",
    ]  # fmt: skip
    assert (form["amount"], form["phone"], form["status"]) == ("10.00", "0771111111", "Message")


@pytest.mark.parametrize(
    ("knob", "phone", "error", "match"),
    [
        ("", "+263774444444", PaymentDeclined, "Insufficient balance"),
        ("", "+254712345678", PaymentDeclined, "Zimbabwean"),
        ("fail_next", "+263771111111", ProviderUnavailable, "500"),
        ("stall_next", "+263771111111", ProviderUnavailable, "in time"),
    ],
)
async def test_start_failures(
    rig: Rig, knob: str, phone: str, error: type[Exception], match: str
) -> None:
    rig.fake.stall_seconds = 2.0  # past FAST's one second, and short enough to end soon
    if knob:
        setattr(rig.fake, knob, 1)
    with pytest.raises(error, match=match):
        await rig.start(phone=phone)


async def test_wrong_key_and_unsigned_ok(rig: Rig, http: aiohttp.ClientSession) -> None:
    credentials = {**rig.fake.credentials(), "integration_key": "not-the-key"}
    rig.paynow = Paynow(credentials, http, limits=FAST)
    with pytest.raises(PaymentDeclined, match="Invalid Hash"):  # Paynow refuses our hash
        await rig.start()

    async def liar(request: web.Request) -> web.Response:
        return web.Response(text="status=Ok&pollurl=http%3a%2f%2fx%2fp&paynowreference=1&hash=AB")

    app = web.Application()
    app.router.add_post("/interface/remotetransaction", liar)
    async with TestServer(app, host="127.0.0.1") as server:
        rig.paynow = Paynow({**DOCS_CREDENTIALS, "base_url": str(server.make_url(""))}, http)
        with pytest.raises(ProviderUnavailable):  # we refuse Paynow's
            await rig.start()


@pytest.mark.parametrize(
    ("paid", "amount_minor", "status", "minor"),
    [
        (True, None, Status.PAID, 2550),
        (False, None, Status.FAILED, 2550),
        (True, 500, Status.PAID, 500),
    ],
)
async def test_genuine_callback_verifies(
    rig: Rig, paid: bool, amount_minor: int | None, status: Status, minor: int
) -> None:
    """A short payment is reported as paid with what was paid: the caller compares amounts."""
    reference, attempt = await rig.start(minor=2550)
    assert await rig.fake.complete(reference, paid=paid, amount_minor=amount_minor) == 200
    report = rig.paynow.verify(rig.callback(reference), attempt.stored)
    assert (report.provider_reference, report.status) == (reference, status)
    assert report.amount == Money(minor, "USD")
    assert "hash" not in report.raw and report.raw["status"] == ("Paid" if paid else "Cancelled")


async def test_forged_tampered_and_misdirected_callbacks_are_rejected(rig: Rig) -> None:
    reference, attempt = await rig.start()
    _, other = await rig.start()
    headers, body, url = rig.fake.forged_callback(reference)
    forged = Callback(headers, body, {}, url)
    assert Paynow.reference_of(forged) == reference
    await rig.fake.complete(reference, paid=True)
    genuine = rig.callback(reference)
    assert b"amount=10.00" in genuine.body
    tampered = genuine.body.replace(b"amount=10.00", b"amount=1000.00")
    for callback, stored in [
        (forged, attempt.stored),
        (Callback(genuine.headers, tampered, {}, genuine.url), attempt.stored),
        (genuine, other.stored),  # genuine, but about another Paynow transaction
    ]:
        with pytest.raises(CallbackRejected):
            rig.paynow.verify(callback, stored)
    assert rig.paynow.verify(genuine, attempt.stored).status is Status.PAID


async def test_query_follows_the_payment(rig: Rig) -> None:
    paid, paid_attempt = await rig.start()
    declined, declined_attempt = await rig.start(phone="+263773333333")
    assert (await rig.paynow.query(paid, paid_attempt.stored)).status is Status.PENDING
    await rig.fake.complete(paid, paid=True)
    report = await rig.paynow.query(paid, paid_attempt.stored)
    assert (report.status, report.amount) == (Status.PAID, Money(1000, "USD"))
    await rig.fake.complete(declined, paid=False)
    report = await rig.paynow.query(declined, declined_attempt.stored)
    assert report.status is Status.FAILED


async def test_query_failures_are_unavailable(rig: Rig) -> None:
    reference, attempt = await rig.start()
    rig.fake.fail_next = 1
    with pytest.raises(ProviderUnavailable):
        await rig.paynow.query(reference, attempt.stored)
    with pytest.raises(ProviderUnavailable):  # the poll URL answers about another payment
        await rig.paynow.query("SOMEONEELSE", attempt.stored)
    unknown = {"pollurl": f"{rig.fake.base_url}/interface/poll/nope"}
    with pytest.raises(ProviderUnavailable):
        await rig.paynow.query(reference, unknown)


def _signed(*pairs: tuple[str, str]) -> bytes:
    return urlencode([*pairs, ("hash", paynow_hash(pairs, DOCS_KEY))]).encode()


MALFORMED = [
    b"",
    b"\xff\xfe\x00",
    b"garbage",
    b"reference=",
    b"reference=%ff",
    b"reference=TK1&status=Paid",
    b"reference=TK1&status=Paid&hash=",
    b"reference=TK1&status=Paid&hash=%C3%A9",
    b"reference=TK1&reference=TK2&status=Paid&hash=00",
    b"&".join([b"f=1"] * 100),
    b"reference=" + b"A" * 500,
    _signed(("reference", "TK1"), ("amount", "ten"), ("status", "Paid")),
    _signed(("reference", "TK1"), ("amount", "10.001"), ("status", "Paid")),
    _signed(("reference", "TK1"), ("amount", "10.00")),
    _signed(("amount", "10.00"), ("status", "Paid")),
    _signed(("reference", "TK1"), ("reference", "TK1"), ("status", "Paid")),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_bodies_are_rejected(http: aiohttp.ClientSession, body: bytes) -> None:
    callback = Callback({}, body, {}, "http://x/paynow/result")
    with pytest.raises(CallbackRejected):
        Paynow(DOCS_CREDENTIALS, http).verify(callback, {})
    with contextlib.suppress(CallbackRejected):  # a reference may be readable; nothing else
        Paynow.reference_of(callback)


def test_capitalised_keys_and_local_phone() -> None:
    assert Paynow.reference_of(Callback({}, b"Reference=TK42&Status=Paid", {}, "")) == "TK42"
    assert local_phone("+263771111111") == local_phone("263 77 111 1111") == "0771111111"
    with pytest.raises(PaymentDeclined):
        local_phone("+27821234567")


async def test_missing_credentials_and_no_refund(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PaymentError, match="integration_key"):
        Paynow({"integration_id": "1", "auth_email": "a@b.c"}, http)
    paynow = Paynow(DOCS_CREDENTIALS, http)
    assert paynow.confirm_callbacks and not paynow.refund_supported
    with pytest.raises(RefundUnsupported):
        await paynow.refund("TK1", Money(100, "USD"), {})
