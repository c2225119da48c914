"""Paying with the sandbox provider end to end: push, PIN prompt, signed callback, settlement."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.conftest import TEST_SECRET
from tests.e2e.conftest import Live, sandbox_account
from tests.factories import World, make_world, phone
from tikiti.core import holds
from tikiti.core.db import Database
from tikiti.core.models import (
    Order,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Ticket,
    Tier,
)
from tikiti.core.signing import KeyBox
from tikiti.payments.reconcile import Reconciler
from tikiti.payments.sandbox import derived_credentials
from tikiti.payments.sandbox_operator import SIGNATURE_HEADER, sign
from tikiti.payments.service import Payments


def paid_callback(payment: Payment, amount_minor: int, n: int) -> bytes:
    """The body the sandbox operator posts when a payer approves (to sign, or to forge)."""
    fields = {
        "id": payment.reference,
        "reference": payment.merchant_reference,
        "status": "paid",
        "amount_minor": str(amount_minor),
        "currency": "USD",
        "phone": phone(n),
        "reason": "",
    }
    return json.dumps(fields).encode()


async def hold(db: Database, world: World, n: int, quantity: int = 2) -> int:
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session,
            event_id=world.event_id,
            items=[holds.Item(world.ga_tier_id, quantity)],
            buyer_phone=phone(n),
            channel="ussd",
            language="en",
            currency="USD",
        )
    return placed.order_id


async def pay(payments: Payments, order_id: int, n: int) -> int:
    payment_id = await payments.begin(
        order_id=order_id, method="ecocash", payer_phone=phone(n), idempotency_key=f"o{order_id}"
    )
    pushed = await payments.push(payment_id)
    assert pushed.ok, pushed.error
    assert "Approve" in pushed.instructions
    return payment_id


async def prompts(live: Live, n: int) -> list[dict[str, str]]:
    async with live.http.get(f"{live.url}/sandbox/phone/{phone(n)}/prompts") as response:
        assert response.status == 200
        return list((await response.json())["prompts"])


async def answer(live: Live, push_id: str, **body: str) -> int:
    async with live.http.post(f"{live.url}/sandbox/phone/prompts/{push_id}", json=body) as r:
        return r.status


async def order_status(
    db: Database, order_id: int, want: OrderStatus, wait: float = 10
) -> OrderStatus:
    deadline = time.monotonic() + wait
    while True:
        async with db.session() as session:
            status = (await session.get_one(Order, order_id)).status
        if status == want or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


async def count(db: Database, model: type, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_approving_the_prompt_settles_and_issues_tickets(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    order_id = await hold(db, world, 1)
    await pay(live.payments, order_id, 1)
    (prompt,) = await prompts(live, 1)
    assert prompt["amount_minor"] == "2000" and prompt["currency"] == "USD"
    assert await answer(live, prompt["id"], action="approve", pin="1234") == 200
    assert await order_status(db, order_id, OrderStatus.FULFILLED) == OrderStatus.FULFILLED
    assert await count(db, Ticket, Ticket.order_id == order_id) == 2
    assert await prompts(live, 1) == []
    assert await answer(live, prompt["id"], action="approve", pin="1234") == 409


async def test_a_declined_or_wrong_pin_frees_the_places_and_tells_the_buyer(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=4)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    for n, body in ((2, {"action": "decline"}), (3, {"action": "approve", "pin": "0000"})):
        order_id = await hold(db, world, n)
        await pay(live.payments, order_id, n)
        (prompt,) = await prompts(live, n)
        assert await answer(live, prompt["id"], **body) == 200
        assert await order_status(db, order_id, OrderStatus.CANCELLED) == OrderStatus.CANCELLED
        assert (
            await count(
                db,
                OutboxMessage,
                OutboxMessage.order_id == order_id,
                OutboxMessage.kind == "payment_failed",
            )
            == 1
        )
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert (tier.sold, tier.held) == (0, 0)


async def test_forged_malformed_and_unknown_callbacks_change_nothing(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    order_id = await hold(db, world, 4)
    payment_id = await pay(live.payments, order_id, 4)
    async with db.session() as session:
        payment = await session.get_one(Payment, payment_id)
    body = paid_callback(payment, 2000, 4)
    url = f"{live.url}/payments/sandbox/callback"
    cases = [
        ({SIGNATURE_HEADER: sign("not-the-secret", body, int(time.time()))}, body, 403),
        ({}, body, 403),
        (
            {
                SIGNATURE_HEADER: sign(
                    derived_credentials(TEST_SECRET, "")["signing_secret"],
                    body,
                    int(time.time()) - 3600,
                )
            },
            body,
            403,
        ),
        ({}, b"{not json", 400),
        ({}, json.dumps({"reference": "TKNOPE", "status": "paid"}).encode(), 404),
    ]
    for headers, payload, expected in cases:
        async with live.http.post(url, data=payload, headers=headers) as response:
            assert response.status == expected, (headers, payload)
    async with live.http.post(f"{live.url}/payments/nosuch/callback", data=body) as response:
        assert response.status == 404
    assert (
        await order_status(db, order_id, OrderStatus.FULFILLED, wait=0)
        == OrderStatus.AWAITING_PAYMENT
    )
    assert await count(db, Ticket, Ticket.order_id == order_id) == 0


async def test_the_same_signed_callback_ten_times_at_once_settles_once(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    order_id = await hold(db, world, 5, quantity=3)
    payment_id = await pay(live.payments, order_id, 5)
    async with db.session() as session:
        payment = await session.get_one(Payment, payment_id)
    body = paid_callback(payment, 3000, 5)
    secret = derived_credentials(TEST_SECRET, "")["signing_secret"]

    async def deliver() -> int:
        headers = {SIGNATURE_HEADER: sign(secret, body, int(time.time()))}
        async with live.http.post(
            f"{live.url}/payments/sandbox/callback", data=body, headers=headers
        ) as r:
            return r.status

    assert await asyncio.gather(*(deliver() for _ in range(10))) == [200] * 10
    assert await count(db, Ticket, Ticket.order_id == order_id) == 3


async def test_a_mismatched_amount_is_flagged_not_settled(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    order_id = await hold(db, world, 6)
    payment_id = await pay(live.payments, order_id, 6)
    async with db.session() as session:
        payment = await session.get_one(Payment, payment_id)
    body = paid_callback(payment, 1, 6)
    headers = {
        SIGNATURE_HEADER: sign(
            derived_credentials(TEST_SECRET, "")["signing_secret"], body, int(time.time())
        )
    }
    async with live.http.post(
        f"{live.url}/payments/sandbox/callback", data=body, headers=headers
    ) as r:
        assert r.status == 200
    async with db.session() as session:
        payment = await session.get_one(Payment, payment_id)
        order = await session.get_one(Order, order_id)
    assert payment.status == PaymentStatus.FLAGGED and order.flag_reason
    assert await count(db, Ticket, Ticket.order_id == order_id) == 0


async def test_a_lost_callback_is_settled_by_reconciliation(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url, approve_after="0.3")
    # Callbacks go to a port nobody listens on: only polling can find out.
    deaf = Payments(db, keybox, live.payments.providers, live.http, public_url="http://127.0.0.1:9")
    order_id = await hold(db, world, 7)
    payment_id = await pay(deaf, order_id, 7)
    await asyncio.sleep(0.5)
    assert (
        await order_status(db, order_id, OrderStatus.FULFILLED, wait=0)
        == OrderStatus.AWAITING_PAYMENT
    )
    reconciler = Reconciler(deaf)
    assert await reconciler.run_once(now=datetime.now(UTC) + timedelta(minutes=1)) >= 1
    assert await order_status(db, order_id, OrderStatus.FULFILLED, wait=0) == OrderStatus.FULFILLED
    since = datetime.now(UTC) - timedelta(minutes=5)
    disagreements = [d async for d in reconciler.disagreements("sandbox", since)]
    assert payment_id not in {d.payment_id for d in disagreements}


async def test_paying_after_the_hold_expired_retakes_the_places(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    from tikiti.core import orders

    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    order_id = await hold(db, world, 8)
    await pay(live.payments, order_id, 8)
    async with db.transaction() as session:
        assert order_id in await orders.expire_due(
            session, now=datetime.now(UTC) + timedelta(minutes=11)
        )
    (prompt,) = await prompts(live, 8)
    assert await answer(live, prompt["id"], action="approve", pin="4321") == 200
    assert await order_status(db, order_id, OrderStatus.FULFILLED) == OrderStatus.FULFILLED


async def test_a_payment_with_no_answer_is_given_up_and_its_places_released(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=2)
    await sandbox_account(db, keybox, world.organizer_id, live.url, timeout="600")
    deaf = Payments(db, keybox, live.payments.providers, live.http, public_url="http://127.0.0.1:9")
    order_id = await hold(db, world, 9)
    await pay(deaf, order_id, 9)
    later = datetime.now(UTC) + timedelta(minutes=45)
    await Reconciler(deaf).run_once(now=later)
    assert await order_status(db, order_id, OrderStatus.CANCELLED, wait=0) == OrderStatus.CANCELLED
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert (tier.sold, tier.held) == (0, 0)


async def test_a_refund_goes_back_through_the_sandbox_and_clears_the_debt(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    from tikiti.core import ledger

    world = await make_world(db, keybox)
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    order_id = await hold(db, world, 10)
    await pay(live.payments, order_id, 10)
    (prompt,) = await prompts(live, 10)
    await answer(live, prompt["id"], action="approve", pin="1234")
    assert await order_status(db, order_id, OrderStatus.FULFILLED) == OrderStatus.FULFILLED
    result = await live.payments.refund(order_id, actor="owner@test", reason="cannot come")
    assert (result.amount, result.paid_back, result.owed) == (2000, 2000, 0)
    async with db.session() as session:
        owed = await ledger.balance(session, world.organizer_id, ledger.REFUNDS_PAYABLE, "USD")
        at_provider = await ledger.balance(session, world.organizer_id, "provider:sandbox", "USD")
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert (owed, at_provider) == (0, 0)
    assert (tier.sold, tier.held) == (0, 0)
