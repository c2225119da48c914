"""Holding inventory: never oversold, however many buyers race for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import make_world, phone
from tests.integration.concurrency import available_connections, race
from tikiti.core import holds, orders
from tikiti.core.db import Database
from tikiti.core.errors import LimitExceeded, SalesClosed, SoldOut
from tikiti.core.models import Hold, HoldState, Order, OrderStatus, SeatClaim, Tier
from tikiti.core.signing import KeyBox


def buy(event_id: int, tier_id: int, n: int, quantity: int = 1, key: str | None = None):  # type: ignore[no-untyped-def]
    async def attempt(database: Database) -> holds.Placed:
        async with database.transaction() as session:
            return await holds.place_hold(
                session,
                event_id=event_id,
                items=[holds.Item(tier_id, quantity)],
                buyer_phone=phone(n),
                channel="ussd",
                language="en",
                currency="USD",
                idempotency_key=key,
            )

    return attempt


async def tier_counts(db: Database, tier_id: int) -> tuple[int, int, int]:
    async with db.session() as session:
        tier = await session.get_one(Tier, tier_id)
        return tier.capacity, tier.sold, tier.held


async def test_200_connections_race_for_50_tickets(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, ga_capacity=50)
    connections = await available_connections(server_url, 200)
    results = await race(
        database_url, connections, [buy(world.event_id, world.ga_tier_id, n) for n in range(200)]
    )
    placed = [r for r in results if isinstance(r, holds.Placed)]
    refused = [r for r in results if isinstance(r, SoldOut)]
    assert len(placed) == 50
    assert len(refused) == 150, [r for r in results if not isinstance(r, holds.Placed | SoldOut)]
    assert all(r.available == 0 for r in refused)
    assert await tier_counts(db, world.ga_tier_id) == (50, 0, 50)
    async with db.session() as session:
        live = await session.scalar(
            select(func.sum(Hold.quantity)).where(
                Hold.tier_id == world.ga_tier_id, Hold.state == HoldState.ACTIVE
            )
        )
    assert live == 50


async def test_100_buyers_for_40_reserved_seats_never_share_a_seat(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, seat_rows=[10, 10, 10, 10])
    assert world.reserved_tier_id is not None
    connections = await available_connections(server_url, 100)
    results = await race(
        database_url,
        connections,
        [buy(world.event_id, world.reserved_tier_id, n, quantity=2) for n in range(100)],
    )
    placed = [r for r in results if isinstance(r, holds.Placed)]
    assert len(placed) == 20
    assert all(isinstance(r, holds.Placed | SoldOut) for r in results)
    seats = [seat for p in placed for seat in p.seats]
    assert len(seats) == 40 == len(set(seats))
    # Pairs are side by side: a row of 10 splits evenly into pairs.
    for p in placed:
        (row_a, num_a), (row_b, num_b) = ((s[0], int(s[1:])) for s in p.seats)
        assert row_a == row_b and abs(num_a - num_b) == 1
    async with db.session() as session:
        claims = await session.scalar(
            select(func.count()).where(
                SeatClaim.event_id == world.event_id, SeatClaim.released_at.is_(None)
            )
        )
    assert claims == 40


async def test_best_available_fills_the_front_row_first(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, seat_rows=[4, 6])
    assert world.reserved_tier_id is not None
    first = await buy(world.event_id, world.reserved_tier_id, 1, quantity=3)(db)
    second = await buy(world.event_id, world.reserved_tier_id, 2, quantity=2)(db)
    assert first.seats == ("A1", "A2", "A3")
    assert second.seats == ("B1", "B2")  # A4 alone cannot seat two together


async def test_per_order_limit_and_sales_state_are_enforced(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, per_order_limit=4)
    with pytest.raises(LimitExceeded):
        await buy(world.event_id, world.ga_tier_id, 1, quantity=5)(db)
    draft = await make_world(db, keybox, publish=False)
    with pytest.raises(SalesClosed):
        await buy(draft.event_id, draft.ga_tier_id, 1)(db)
    assert await tier_counts(db, world.ga_tier_id) == (100, 0, 0)


async def test_same_idempotency_key_holds_once(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    first = await buy(world.event_id, world.ga_tier_id, 1, 2, key="ussd:abc:confirm")(db)
    again = await buy(world.event_id, world.ga_tier_id, 1, 2, key="ussd:abc:confirm")(db)
    assert again.order_id == first.order_id and not again.created
    assert await tier_counts(db, world.ga_tier_id) == (100, 0, 2)


async def test_expired_holds_return_their_inventory(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, ga_capacity=3, seat_rows=[2])
    assert world.reserved_tier_id is not None
    placed = await buy(world.event_id, world.ga_tier_id, 1, quantity=3)(db)
    seated = await buy(world.event_id, world.reserved_tier_id, 2, quantity=2)(db)
    with pytest.raises(SoldOut):
        await buy(world.event_id, world.ga_tier_id, 3)(db)
    async with db.transaction() as session:
        assert await orders.expire_due(session) == []  # not yet due
    later = datetime.now(UTC) + timedelta(minutes=11)
    async with db.transaction() as session:
        expired = await orders.expire_due(session, now=later)
    assert placed.order_id in expired and seated.order_id in expired
    assert await tier_counts(db, world.ga_tier_id) == (3, 0, 0)
    async with db.session() as session:
        order = await session.get_one(Order, placed.order_id)
        assert order.status == OrderStatus.EXPIRED
    again = await buy(world.event_id, world.reserved_tier_id, 4, quantity=2)(db)
    assert again.seats == ("A1", "A2")
