"""Waiting lists: returned places go to the line in order, never twice at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories import World, make_world, phone
from tests.integration.concurrency import available_connections, race
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.core import orders, waitlist
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput
from tikiti.core.models import OutboxMessage, Tier, WaitlistEntry
from tikiti.core.signing import KeyBox


async def _join(db: Database, world: World, number: str) -> int:
    async with db.transaction() as session:
        return await waitlist.join(
            session,
            event_id=world.event_id,
            tier_id=world.ga_tier_id,
            phone=number,
            channel="sms",
            language="en",
        )


async def _offer(db: Database, now: datetime) -> int:
    async with db.transaction() as session:
        return await waitlist.offer_due(session, now=now)


async def _entries(db: Database, world: World) -> list[WaitlistEntry]:
    async with db.session() as session:
        found = await session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.tier_id == world.ga_tier_id)
            .order_by(WaitlistEntry.id)
        )
        return list(found)


async def test_returned_places_go_to_the_line_in_order_and_never_twice(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, ga_capacity=10, hold_minutes=10)
    first_buyers = [await hold_and_request(db, world, 9_100_000 + n, quantity=1) for n in range(10)]
    with pytest.raises(InvalidInput):  # joining is for a sold-out tier only
        async with db.transaction() as session:
            other = await make_world(db, keybox)
            await waitlist.join(
                session, event_id=other.event_id, tier_id=other.ga_tier_id,
                phone=phone(1), channel="sms", language="en",
            )  # fmt: skip
    line = [phone(9_200_000 + n) for n in range(100)]
    positions = [await _join(db, world, number) for number in line]
    assert positions == list(range(1, 101))
    assert await _join(db, world, line[5]) == 6  # joining again keeps your place

    # The ten holds lapse: ten places come back at once; three workers offer them together.
    later = datetime.now(UTC) + timedelta(minutes=11)
    async with db.transaction() as session:
        assert len(await orders.expire_due(session, now=later)) == 10
    connections = await available_connections(server_url, 3)
    made = await race(database_url, connections, [lambda d: _offer(d, later)] * 3)
    assert sum(n for n in made if isinstance(n, int)) == 10
    entries = await _entries(db, world)
    assert [e.phone for e in entries if e.status == "offered"] == line[:10]
    assert len({e.order_id for e in entries if e.status == "offered"}) == 10
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
        assert tier.held == 10 and tier.sold == 0  # each offer is a real hold, none twice
        told = (
            await session.scalars(
                select(OutboxMessage.address).where(OutboxMessage.kind == "waitlist_offer")
            )
        ).all()
    assert set(line[:10]) <= set(told)
    assert await _offer(db, later) == 0  # nothing left to offer

    # One pays; three let the offer lapse: their places go to the next three in line.
    (offer,) = [e for e in entries if e.phone == line[0]]
    async with db.transaction() as session:
        found = await waitlist.open_offer(session, line[0], later)
    assert found is not None and found.order_id == offer.order_id
    await _pay_offer(db, found)
    even_later = later + timedelta(minutes=11)
    async with db.transaction() as session:
        await orders.expire_due(session, now=even_later)  # the other nine lapse
    assert await _offer(db, even_later) == 9
    entries = await _entries(db, world)
    by_phone = {e.phone: e.status for e in entries}
    assert by_phone[line[0]] == "bought"
    assert all(by_phone[p] == "lapsed" for p in line[1:10])
    assert all(by_phone[p] == "offered" for p in line[10:19])
    assert all(by_phone[p] == "waiting" for p in line[19:])
    assert first_buyers


async def _pay_offer(db: Database, offer: waitlist.Offer) -> None:
    async with db.transaction() as session:
        payment = await orders.request_payment(
            session,
            order_id=offer.order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone="+263770000001",
            idempotency_key=f"pay-offer:{offer.order_id}",
        )
        await orders.attach_reference(session, payment.id, f"SBX-offer-{offer.order_id}")
    await settle(db, f"SBX-offer-{offer.order_id}", offer.price_minor * offer.quantity)
