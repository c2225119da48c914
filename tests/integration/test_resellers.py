"""Resellers: sales with a code are theirs, allocations are theirs alone, commission accrues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import make_world
from tests.integration.concurrency import available_connections, race
from tests.integration.sales import (
    add_promo,
    add_reseller,
    allocation,
    assert_allocations_carved,
    buyer,
    counts,
)
from tests.integration.test_settlement import settle
from tikiti.core import holds, ledger, orders, promos, resellers, sale_codes
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput, SoldOut
from tikiti.core.models import LedgerEntry, Order, OrderStatus, Reseller
from tikiti.core.signing import KeyBox


async def test_200_buyers_race_for_a_30_place_allocation(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, ga_capacity=100)
    reseller_id, code = await add_reseller(db, world, places=30)
    assert (await counts(db, world.ga_tier_id)).general == 70
    connections = await available_connections(server_url, 200)
    results = await race(
        database_url,
        connections,
        [buyer(world, n, reseller_code=code) for n in range(200)],
    )
    placed = [r for r in results if isinstance(r, holds.Placed)]
    refused = [r for r in results if isinstance(r, SoldOut)]
    assert len(placed) == 30
    assert len(refused) == 170, [r for r in results if not isinstance(r, holds.Placed | SoldOut)]
    assert all(r.available == 0 for r in refused)
    assert await allocation(db, reseller_id, world.ga_tier_id) == (30, 0, 30)
    tier = await counts(db, world.ga_tier_id)
    assert (tier.held, tier.allocated, tier.general) == (30, 0, 70)  # the general pool untouched
    await assert_allocations_carved(db, world.ga_tier_id)
    async with db.session() as session:
        theirs = await session.scalar(
            select(func.count()).where(
                Order.event_id == world.event_id, Order.reseller_id == reseller_id
            )
        )
    assert theirs == 30


async def test_general_buyers_never_take_allocated_places(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, ga_capacity=50)
    reseller_id, code = await add_reseller(db, world, places=20)
    connections = await available_connections(server_url, 200)
    attempts = [buyer(world, n) for n in range(100)]
    attempts += [buyer(world, 1000 + n, reseller_code=code) for n in range(100)]
    results = await race(database_url, connections, attempts)
    general = [r for r in results[:100] if isinstance(r, holds.Placed)]
    theirs = [r for r in results[100:] if isinstance(r, holds.Placed)]
    assert all(isinstance(r, holds.Placed | SoldOut) for r in results)
    assert (len(general), len(theirs)) == (30, 20)
    assert await allocation(db, reseller_id, world.ga_tier_id) == (20, 0, 20)
    assert await counts(db, world.ga_tier_id) == (50, 0, 50, 0)


async def test_a_reseller_without_an_allocation_sells_from_the_general_pool(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    reseller_id, code = await add_reseller(db, world)
    placed = await buyer(world, 1, quantity=3, reseller_code=code.lower())(db)
    async with db.session() as session:
        order = await session.get_one(Order, placed.order_id)
    assert order.reseller_id == reseller_id
    assert (await counts(db, world.ga_tier_id)).held == 3


async def test_an_unknown_or_switched_off_code_holds_nothing(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    reseller_id, code = await add_reseller(db, world, places=5)
    with pytest.raises(resellers.ResellerNotFound):
        await buyer(world, 1, reseller_code="NOPE")(db)
    async with db.transaction() as session:
        (await session.get_one(Reseller, reseller_id)).active = False
    with pytest.raises(resellers.ResellerNotFound) as refused:
        await buyer(world, 2, reseller_code=code)(db)
    assert refused.value.code == "reseller_not_found"
    assert await counts(db, world.ga_tier_id) == (10, 0, 0, 5)
    async with db.session() as session:
        placed = await session.scalar(select(func.count()).where(Order.event_id == world.event_id))
    assert placed == 0


async def test_a_code_of_another_organizer_is_unknown_here(db: Database, keybox: KeyBox) -> None:
    ours = await make_world(db, keybox)
    theirs = await make_world(db, keybox)
    _, code = await add_reseller(db, theirs)
    with pytest.raises(resellers.ResellerNotFound):
        await buyer(ours, 1, reseller_code=code)(db)


async def test_expiry_and_cancel_give_allocation_places_back(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    reseller_id, code = await add_reseller(db, world, places=4)
    first = await buyer(world, 1, quantity=3, reseller_code=code)(db)
    second = await buyer(world, 2, quantity=1, reseller_code=code)(db)
    with pytest.raises(SoldOut) as gone:
        await buyer(world, 3, reseller_code=code)(db)
    assert gone.value.available == 0
    assert await allocation(db, reseller_id, world.ga_tier_id) == (4, 0, 4)
    async with db.transaction() as session:
        await orders.cancel(session, second.order_id, actor="test", reason="changed mind")
    assert await allocation(db, reseller_id, world.ga_tier_id) == (4, 0, 3)
    later = datetime.now(UTC) + timedelta(minutes=11)
    async with db.transaction() as session:
        assert first.order_id in await orders.expire_due(session, now=later)
    assert await allocation(db, reseller_id, world.ga_tier_id) == (4, 0, 0)
    assert await counts(db, world.ga_tier_id) == (10, 0, 0, 4)
    await assert_allocations_carved(db, world.ga_tier_id)


async def test_settlement_sells_allocation_places_and_accrues_commission(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=10, price_minor=1999)
    reseller_id, code = await add_reseller(db, world, places=5, commission_bps=750)
    placed = await buyer(world, 1, quantity=2, reseller_code=code)(db)
    async with db.transaction() as session:
        payment = await orders.request_payment(
            session,
            order_id=placed.order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone="+263771000001",
            idempotency_key=f"pay:{placed.order_id}",
        )
        await orders.attach_reference(session, payment.id, f"SBX-{placed.order_id}")
    result = await settle(db, f"SBX-{placed.order_id}", placed.total.minor)
    assert len(result.tickets) == 2
    assert await allocation(db, reseller_id, world.ga_tier_id) == (5, 2, 0)
    assert await counts(db, world.ga_tier_id) == (10, 2, 0, 3)
    earned = 3998 * 750 // 10_000  # 299.85 → 299: commission rounds down
    async with db.session() as session:
        owed = await resellers.commission_owed(
            session, await session.get_one(Reseller, reseller_id), "USD"
        )
        assert owed.minor == earned
        expense = await ledger.balance(
            session, world.organizer_id, ledger.COMMISSION_EXPENSE, "USD"
        )
        assert expense == earned
        unbalanced = await session.scalar(
            select(func.count()).select_from(
                select(LedgerEntry.txn)
                .where(LedgerEntry.organizer_id == world.organizer_id)
                .group_by(LedgerEntry.txn, LedgerEntry.currency)
                .having(func.sum(LedgerEntry.amount_minor) != 0)
                .subquery()
            )
        )
        assert unbalanced == 0

    async with db.transaction() as session:
        await orders.refund(session, placed.order_id, actor="test", reason="event moved")
    assert await allocation(db, reseller_id, world.ga_tier_id) == (5, 0, 0)
    assert await counts(db, world.ga_tier_id) == (10, 0, 0, 5)
    async with db.session() as session:
        owed = await resellers.commission_owed(
            session, await session.get_one(Reseller, reseller_id), "USD"
        )
        assert owed.minor == 0
        order = await session.get_one(Order, placed.order_id)
        assert order.status == OrderStatus.REFUNDED


async def test_a_late_payment_takes_its_places_from_the_allocation_again(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    reseller_id, code = await add_reseller(db, world, places=2)
    placed = await buyer(world, 1, quantity=2, reseller_code=code)(db)
    async with db.transaction() as session:
        payment = await orders.request_payment(
            session,
            order_id=placed.order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone="+263771000001",
            idempotency_key=f"pay:{placed.order_id}",
        )
        await orders.attach_reference(session, payment.id, f"SBX-{placed.order_id}")
    later = datetime.now(UTC) + timedelta(minutes=11)
    async with db.transaction() as session:
        await orders.expire_due(session, now=later)
    result = await settle(db, f"SBX-{placed.order_id}", placed.total.minor, now=later)
    assert result.outcome.value == "settled_late"
    assert await allocation(db, reseller_id, world.ga_tier_id) == (2, 2, 0)
    assert await counts(db, world.ga_tier_id) == (10, 2, 0, 0)


async def test_an_allocation_grows_from_free_places_and_shrinks_to_what_is_unsold(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    reseller_id, code = await add_reseller(db, world, places=4)
    await buyer(world, 1, quantity=5)(db)  # a general buyer: 1 general place left
    with pytest.raises(InvalidInput, match="only 1 more"):
        async with db.transaction() as session:
            await resellers.allocate(
                session, reseller_id=reseller_id, tier_id=world.ga_tier_id, places=6, actor="t"
            )
    await buyer(world, 2, quantity=3, reseller_code=code)(db)
    with pytest.raises(InvalidInput, match="3 places sold or held"):
        async with db.transaction() as session:
            await resellers.allocate(
                session, reseller_id=reseller_id, tier_id=world.ga_tier_id, places=2, actor="t"
            )
    async with db.transaction() as session:
        shrunk = await resellers.allocate(
            session, reseller_id=reseller_id, tier_id=world.ga_tier_id, places=3, actor="t"
        )
    assert (shrunk.capacity, shrunk.left) == (3, 0)
    assert await counts(db, world.ga_tier_id) == (10, 0, 8, 0)
    await assert_allocations_carved(db, world.ga_tier_id)


async def test_reseller_codes_are_checked_and_unique_per_organizer(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    _, code = await add_reseller(db, world)
    for bad in ("T", "TOO-LONG!", "ABCDEFGHIJKLM"):
        with pytest.raises(InvalidInput):
            async with db.transaction() as session:
                await resellers.add(
                    session, organizer_id=world.organizer_id, code=bad, name="x", actor="t"
                )
    with pytest.raises(InvalidInput, match="already a reseller code"):
        async with db.transaction() as session:
            await resellers.add(
                session, organizer_id=world.organizer_id, code=code, name="x", actor="t"
            )


async def test_one_code_box_tells_reseller_codes_from_promo_codes(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    _, reseller_code = await add_reseller(db, world)
    _, promo_code = await add_promo(db, world, promos.Terms(percent_bps=1000))
    async with db.session() as session:
        kinds = [
            await sale_codes.classify(session, event_id=world.event_id, code=code)
            for code in (reseller_code.lower(), promo_code, "NOSUCH", " ")
        ]
    assert kinds == [sale_codes.CodeKind.RESELLER, sale_codes.CodeKind.PROMO, None, None]
    with pytest.raises(InvalidInput, match="already a reseller's code"):
        async with db.transaction() as session:
            await promos.add(
                session,
                event_id=world.event_id,
                code=reseller_code,
                terms=promos.Terms(percent_bps=500),
                actor="t",
            )
    with pytest.raises(InvalidInput, match="already a promo code"):
        async with db.transaction() as session:
            await resellers.add(
                session, organizer_id=world.organizer_id, code=promo_code[:12], name="x", actor="t"
            )
