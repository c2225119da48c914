"""Each real provider's adapter, through our callback endpoint, against its local fake server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from tests.e2e.conftest import Live
from tests.factories import World, make_world
from tests.fakes.base import FakeProvider
from tests.fakes.flutterwave import FakeFlutterwave
from tests.fakes.mpesa import FakeMpesa
from tests.fakes.paynow import FakePaynow
from tikiti.core import holds, payment_accounts
from tikiti.core.db import Database
from tikiti.core.models import Order, OrderStatus, Payment, Ticket, Tier
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


@dataclass(frozen=True)
class Case:
    fake: type[FakeProvider]
    method: str
    price: Money  # what one ticket costs in the provider's currency
    phones: str  # a prefix that makes valid numbers for the provider's country


CASES = {
    "paynow": Case(FakePaynow, "ecocash", Money(1000, "USD"), "+26377"),
    "mpesa": Case(FakeMpesa, "mpesa", Money(150000, "KES"), "+25471"),
    "flutterwave": Case(FakeFlutterwave, "mtn", Money(20000, "UGX"), "+25677"),
}


@pytest.fixture(params=sorted(CASES))
async def provider(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Case, FakeProvider]]:
    case = CASES[request.param]
    fake = case.fake()
    await fake.start()
    try:
        yield request.param, case, fake
    finally:
        await fake.stop()


async def setup_world(
    db: Database,
    keybox: KeyBox,
    live: Live,
    name: str,
    case: Case,
    fake: FakeProvider,
    capacity: int = 10,
) -> World:
    world = await make_world(
        db,
        keybox,
        ga_capacity=capacity,
        extra_prices=[case.price] if case.price.currency != "USD" else [],
        payment_methods=[case.method],
    )
    if isinstance(fake, FakeFlutterwave):
        fake.webhook_url = f"{live.url}/payments/flutterwave/callback"
    async with db.transaction() as session:
        await payment_accounts.save(
            session, keybox, organizer_id=world.organizer_id, provider=name,
            methods=[case.method], credentials=fake.credentials(), live=False, actor="test",
        )  # fmt: skip
    return world


async def start(live: Live, db: Database, world: World, case: Case, n: int) -> tuple[int, str]:
    phone = f"{case.phones}{n:07d}"
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session, event_id=world.event_id, items=[holds.Item(world.ga_tier_id, 1)],
            buyer_phone=phone, channel="sms", language="en", currency=case.price.currency,
        )  # fmt: skip
    payment_id = await live.payments.begin(
        order_id=placed.order_id,
        method=case.method,
        payer_phone=phone,
        idempotency_key=f"p{placed.order_id}",
    )
    pushed = await live.payments.push(payment_id)
    assert pushed.ok, pushed.error
    async with db.session() as session:
        reference = (await session.get_one(Payment, payment_id)).reference
    assert reference
    return placed.order_id, reference


async def status(db: Database, order_id: int) -> OrderStatus:
    async with db.session() as session:
        return (await session.get_one(Order, order_id)).status


async def tickets(db: Database, order_id: int) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.order_id == order_id)
            )
            or 0
        )


async def test_a_paid_callback_is_confirmed_and_settles_once(
    live: Live, db: Database, keybox: KeyBox, provider: tuple[str, Case, FakeProvider]
) -> None:
    name, case, fake = provider
    world = await setup_world(db, keybox, live, name, case, fake)
    order_id, reference = await start(live, db, world, case, 1)
    assert await fake.complete(reference, paid=True) == 200
    assert await status(db, order_id) == OrderStatus.FULFILLED
    assert await tickets(db, order_id) == 1
    # Providers retry: a second delivery of the same result changes nothing.
    assert await fake.complete(reference, paid=True) == 200
    assert await tickets(db, order_id) == 1


async def test_a_forged_callback_changes_nothing(
    live: Live, db: Database, keybox: KeyBox, provider: tuple[str, Case, FakeProvider]
) -> None:
    name, case, fake = provider
    world = await setup_world(db, keybox, live, name, case, fake)
    order_id, reference = await start(live, db, world, case, 2)
    headers, body, url = fake.forged_callback(reference)
    async with live.http.post(url, data=body, headers=headers) as response:
        assert 400 <= response.status < 500
    assert await status(db, order_id) == OrderStatus.AWAITING_PAYMENT
    assert await tickets(db, order_id) == 0


async def test_a_declined_prompt_releases_the_place(
    live: Live, db: Database, keybox: KeyBox, provider: tuple[str, Case, FakeProvider]
) -> None:
    name, case, fake = provider
    world = await setup_world(db, keybox, live, name, case, fake, capacity=1)
    order_id, reference = await start(live, db, world, case, 3)
    assert await fake.complete(reference, paid=False) == 200
    assert await status(db, order_id) == OrderStatus.CANCELLED
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert (tier.sold, tier.held) == (0, 0)


async def test_a_provider_that_is_down_fails_the_payment_cleanly(
    live: Live, db: Database, keybox: KeyBox, provider: tuple[str, Case, FakeProvider]
) -> None:
    name, case, fake = provider
    world = await setup_world(db, keybox, live, name, case, fake, capacity=1)
    fake.fail_next = 10
    phone = f"{case.phones}0000004"
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session, event_id=world.event_id, items=[holds.Item(world.ga_tier_id, 1)],
            buyer_phone=phone, channel="ussd", language="en", currency=case.price.currency,
        )  # fmt: skip
    payment_id = await live.payments.begin(
        order_id=placed.order_id,
        method=case.method,
        payer_phone=phone,
        idempotency_key=f"down-{name}",
    )
    pushed = await live.payments.push(payment_id)
    assert not pushed.ok and pushed.error == "provider_unavailable"
    assert await status(db, placed.order_id) == OrderStatus.CANCELLED
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert tier.held == 0


async def test_a_callback_for_less_than_the_order_is_flagged(
    live: Live, db: Database, keybox: KeyBox, provider: tuple[str, Case, FakeProvider]
) -> None:
    name, case, fake = provider
    world = await setup_world(db, keybox, live, name, case, fake)
    order_id, reference = await start(live, db, world, case, 5)
    short = case.price.minor // 2
    await fake.complete(reference, paid=True, amount_minor=short)
    await asyncio.sleep(0)
    assert await tickets(db, order_id) == 0
    async with db.session() as session:
        order = await session.get_one(Order, order_id)
    assert order.flag_reason is not None and "expects" in order.flag_reason


async def test_an_mpesa_callback_with_the_right_token_is_still_confirmed_by_query(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    """Daraja callbacks carry no signature: even one at the right URL is checked with the
    STK query API, and one the payer never approved settles nothing."""
    case = CASES["mpesa"]
    fake = FakeMpesa()
    await fake.start()
    try:
        world = await setup_world(db, keybox, live, "mpesa", case, fake)
        order_id, reference = await start(live, db, world, case, 6)
        url = fake.pushes[reference].body["CallBackURL"]  # the genuine per-payment token
        body = fake.callback_body(reference, paid=True)
        headers = {"Content-Type": "application/json"}
        async with live.http.post(url, data=body, headers=headers) as response:
            assert response.status == 403
        assert await status(db, order_id) == OrderStatus.AWAITING_PAYMENT
        assert await tickets(db, order_id) == 0
    finally:
        await fake.stop()


async def test_refunds_are_paid_back_or_honestly_left_owed(
    live: Live, db: Database, keybox: KeyBox, provider: tuple[str, Case, FakeProvider]
) -> None:
    from tikiti.core import ledger

    name, case, fake = provider
    world = await setup_world(db, keybox, live, name, case, fake)
    order_id, reference = await start(live, db, world, case, 7)
    assert await fake.complete(reference, paid=True) == 200
    result = await live.payments.refund(order_id, actor="owner@test", reason="event moved")
    refundable = name == "flutterwave"  # Paynow and M-Pesa (STK) have no refund API
    assert result.amount == case.price.minor
    assert result.owed == (0 if refundable else case.price.minor)
    async with db.session() as session:
        owed = await ledger.balance(
            session, world.organizer_id, ledger.REFUNDS_PAYABLE, case.price.currency
        )
    assert owed == (0 if refundable else -case.price.minor)
