"""Settling payments: exactly once, late payments re-held or refunded, mismatches flagged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.factories import World, make_world, phone
from tests.integration.concurrency import available_connections, race
from tikiti.core import holds, ledger, orders, settlement
from tikiti.core.db import Database
from tikiti.core.models import (
    LedgerEntry,
    Order,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Ticket,
    Tier,
)
from tikiti.core.signing import KeyBox


async def hold_and_request(
    db: Database, world: World, n: int, quantity: int = 2, tier_id: int | None = None
) -> tuple[int, str, int]:
    """An order awaiting payment; returns (order id, provider reference, amount)."""
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session,
            event_id=world.event_id,
            items=[holds.Item(tier_id or world.ga_tier_id, quantity)],
            buyer_phone=phone(n),
            channel="sms",
            language="en",
            currency="USD",
        )
        payment = await orders.request_payment(
            session,
            order_id=placed.order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone=phone(n),
            idempotency_key=f"pay:{placed.order_id}",
        )
        reference = f"SBX-{placed.order_id}"
        await orders.attach_reference(session, payment.id, reference)
        return placed.order_id, reference, placed.total.minor


async def settle(db: Database, reference: str, amount: int, **kw: object) -> settlement.Settlement:
    async with db.transaction() as session:
        return await settlement.settle(
            session,
            provider="sandbox",
            reference=reference,
            amount_minor=amount,
            currency=str(kw.get("currency", "USD")),
            payload={"reference": reference},
            now=kw.get("now"),  # type: ignore[arg-type]
        )


async def count(db: Database, model: type, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_settling_issues_tickets_and_queues_their_messages(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    order_id, reference, amount = await hold_and_request(db, world, 1)
    result = await settle(db, reference, amount)
    assert result.outcome == settlement.Outcome.SETTLED
    assert len(result.tickets) == 2
    assert await count(db, Ticket, Ticket.order_id == order_id) == 2
    assert await count(db, OutboxMessage, OutboxMessage.order_id == order_id) == 2
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
        assert (tier.sold, tier.held) == (2, 0)
        order = await session.get_one(Order, order_id)
        assert order.status == OrderStatus.FULFILLED
        assert (
            await ledger.balance(session, world.organizer_id, "provider:sandbox", "USD") == amount
        )
        assert await ledger.balance(session, world.organizer_id, ledger.SALES, "USD") == -amount


async def test_the_same_callback_ten_times_at_once_issues_one_set_of_tickets(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox)
    order_id, reference, amount = await hold_and_request(db, world, 2, quantity=3)

    def callback() -> object:
        async def attempt(database: Database) -> settlement.Settlement:
            async with database.transaction() as session:
                return await settlement.settle(
                    session,
                    provider="sandbox",
                    reference=reference,
                    amount_minor=amount,
                    currency="USD",
                    payload={"try": 1},
                )

        return attempt

    connections = await available_connections(server_url, 10)
    results = await race(database_url, connections, [callback() for _ in range(10)])  # type: ignore[list-item]
    outcomes = sorted(r.outcome for r in results)  # type: ignore[union-attr]
    assert outcomes.count(settlement.Outcome.SETTLED) == 1
    assert outcomes.count(settlement.Outcome.ALREADY_SETTLED) == 9
    assert await count(db, Ticket, Ticket.order_id == order_id) == 3
    assert await count(db, PaymentEvent, PaymentEvent.payload["try"].as_integer() == 1) >= 10
    assert await count(db, LedgerEntry, LedgerEntry.order_id == order_id) == 2


async def test_failed_after_paid_does_not_unpay(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    order_id, reference, amount = await hold_and_request(db, world, 3)
    await settle(db, reference, amount)
    async with db.transaction() as session:
        result = await settlement.fail_payment(
            session, provider="sandbox", reference=reference, reason="late decline", payload={}
        )
    assert result.outcome == settlement.Outcome.IGNORED
    async with db.session() as session:
        assert (await session.get_one(Order, order_id)).status == OrderStatus.FULFILLED


async def test_declined_payment_frees_the_places(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=2)
    order_id, reference, _ = await hold_and_request(db, world, 4)
    async with db.transaction() as session:
        result = await settlement.fail_payment(
            session, provider="sandbox", reference=reference, reason="wrong PIN", payload={}
        )
    assert result.outcome == settlement.Outcome.FAILED
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
        assert (tier.sold, tier.held) == (0, 0)
        assert (await session.get_one(Order, order_id)).status == OrderStatus.CANCELLED


async def test_late_payment_retakes_places_when_some_are_left(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=5, seat_rows=[4])
    assert world.reserved_tier_id is not None
    order_id, reference, amount = await hold_and_request(
        db, world, 5, quantity=2, tier_id=world.reserved_tier_id
    )
    later = datetime.now(UTC) + timedelta(minutes=30)
    async with db.transaction() as session:
        assert order_id in await orders.expire_due(session, now=later)
    result = await settle(db, reference, amount, now=later)
    assert result.outcome == settlement.Outcome.SETTLED_LATE
    assert sorted(t.seat or "" for t in result.tickets) == ["A1", "A2"]
    async with db.session() as session:
        tier = await session.get_one(Tier, world.reserved_tier_id)
        assert (tier.sold, tier.held) == (2, 0)


async def test_late_payment_after_sell_out_is_owed_back(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=2)
    order_id, reference, amount = await hold_and_request(db, world, 6, quantity=2)
    later = datetime.now(UTC) + timedelta(minutes=30)
    async with db.transaction() as session:
        await orders.expire_due(session, now=later)
    _, other_reference, other_amount = await hold_and_request(db, world, 7, quantity=2)
    await settle(db, other_reference, other_amount)
    result = await settle(db, reference, amount, now=later)
    assert result.outcome == settlement.Outcome.REFUND_DUE
    assert await count(db, Ticket, Ticket.order_id == order_id) == 0
    async with db.session() as session:
        assert (await session.get_one(Order, order_id)).status == OrderStatus.REFUND_DUE
        tier = await session.get_one(Tier, world.ga_tier_id)
        assert (tier.sold, tier.held) == (2, 0)
        owed = await ledger.balance(session, world.organizer_id, ledger.REFUNDS_PAYABLE, "USD")
        assert owed == -amount
        told = await session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.order_id == order_id, OutboxMessage.kind == "refund_due"
            )
        )
        assert told is not None and "refunded" in told


async def test_amount_mismatch_is_flagged_not_settled(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    order_id, reference, amount = await hold_and_request(db, world, 8)
    result = await settle(db, reference, amount - 1)
    assert result.outcome == settlement.Outcome.FLAGGED
    assert await count(db, Ticket, Ticket.order_id == order_id) == 0
    wrong_currency = await make_world(db, keybox)
    _, other_ref, other_amount = await hold_and_request(db, wrong_currency, 9)
    assert (
        await settle(db, other_ref, other_amount, currency="ZWG")
    ).outcome == settlement.Outcome.FLAGGED
    async with db.session() as session:
        payment = await session.scalar(select(Payment).where(Payment.order_id == order_id))
        assert payment is not None and payment.status == PaymentStatus.FLAGGED
        order = await session.get_one(Order, order_id)
        assert order.flag_reason and "expects" in order.flag_reason


async def test_unknown_reference_changes_nothing_but_is_kept(db: Database, keybox: KeyBox) -> None:
    result = await settle(db, "SBX-does-not-exist", 100)
    assert result.outcome == settlement.Outcome.UNKNOWN_PAYMENT
    assert await count(db, PaymentEvent, PaymentEvent.kind == "unknown_reference") >= 1


async def test_refund_returns_inventory_and_writes_the_ledger(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    order_id, reference, amount = await hold_and_request(db, world, 10, quantity=3)
    await settle(db, reference, amount)
    async with db.transaction() as session:
        refunded = await orders.refund(session, order_id, actor="owner@test", reason="asked")
    assert refunded == amount
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
        assert (tier.sold, tier.held) == (0, 0)
        assert await ledger.balance(session, world.organizer_id, ledger.SALES, "USD") == 0
        statuses = (
            await session.scalars(select(Ticket.status).where(Ticket.order_id == order_id))
        ).all()
        assert {s.value for s in statuses} == {"refunded"}


async def test_sweeper_and_settlement_racing_never_double_count(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=40)
    pending = [await hold_and_request(db, world, 100 + n, quantity=1) for n in range(20)]
    later = datetime.now(UTC) + timedelta(minutes=30)

    async def sweep() -> None:
        async with db.transaction() as session:
            await orders.expire_due(session, now=later)

    await asyncio.gather(sweep(), *(settle(db, ref, amt, now=later) for _, ref, amt in pending))
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
        tickets = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.tier_id == world.ga_tier_id)
        )
    assert tier.held == 0
    assert tier.sold == tickets == 20
