"""Delivering the outbox through Africa's Talking's SDK, against a local fake of its API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import LINKS
from tests.factories import make_world, phone
from tests.fakes.africastalking import FakeAfricasTalking
from tikiti.channels.sms_africastalking import AfricasTalkingSms
from tikiti.core import delivery, outbox
from tikiti.core.db import Database
from tikiti.core.models import OutboxMessage, OutboxStatus
from tikiti.core.signing import KeyBox


@pytest.fixture
async def gateway() -> AsyncIterator[FakeAfricasTalking]:
    fake = FakeAfricasTalking()
    await fake.start()
    yield fake
    await fake.stop()


def sender(fake: FakeAfricasTalking) -> dict[str, AfricasTalkingSms]:
    creds = fake.credentials()
    sms = AfricasTalkingSms(creds["username"], creds["api_key"], base_url=creds["base_url"])
    return {"sms": sms, "ussd": sms}


async def queue(
    db: Database, organizer_id: int, tag: str, count: int, address: str | None = None
) -> list[int]:
    ids = []
    async with db.transaction() as session:
        for n in range(count):
            message = outbox.Message(
                kind="test",
                channel="sms",
                address=address or phone(n),
                language="en",
                body=f"{tag} #{n}",
                dedupe_key=f"{tag}:{n}",
                organizer_id=organizer_id,
            )
            message_id = await outbox.enqueue(session, message)
            assert message_id is not None
            ids.append(message_id)
    return ids


async def statuses(db: Database, ids: list[int]) -> dict[OutboxStatus, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.id.in_(ids))
            .group_by(OutboxMessage.status)
        )
        return {status: n for status, n in rows}


async def test_two_workers_send_a_thousand_messages_each_exactly_once(
    db: Database, keybox: KeyBox, gateway: FakeAfricasTalking
) -> None:
    world = await make_world(db, keybox)
    ids = await queue(db, world.organizer_id, "bulk", 1000)
    senders = sender(gateway)

    async def worker() -> None:
        while await delivery.deliver_batch(db, senders, LINKS, limit=50):
            pass

    await asyncio.gather(worker(), worker())
    assert await statuses(db, ids) == {OutboxStatus.SENT: 1000}
    ours = {body: n for body, n in gateway.bodies.items() if body.startswith("bulk #")}
    assert len(ours) == 1000 and set(ours.values()) == {1}


async def test_a_gateway_failing_twice_delivers_on_the_third_try(
    db: Database, keybox: KeyBox, gateway: FakeAfricasTalking
) -> None:
    world = await make_world(db, keybox)
    (message_id,) = await queue(db, world.organizer_id, "flaky", 1)
    senders, now = sender(gateway), datetime.now(UTC)
    gateway.fail_next = 2
    for attempt in range(3):
        assert await delivery.deliver_batch(db, senders, LINKS, now=now) == 1, attempt
        now += timedelta(hours=1)  # past any back-off
    assert await statuses(db, [message_id]) == {OutboxStatus.SENT: 1}
    async with db.session() as session:
        row = await session.get_one(OutboxMessage, message_id)
    assert (
        row.attempts == 3
        and row.provider_message_id
        and row.provider_message_id.startswith("ATXid_")
    )
    assert gateway.bodies["flaky #0"] == 1


async def test_a_worker_killed_mid_batch_loses_nothing(
    db: Database, keybox: KeyBox, gateway: FakeAfricasTalking
) -> None:
    world = await make_world(db, keybox)
    ids = await queue(db, world.organizer_id, "crash", 20)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        leased = await delivery.lease(
            session, ["sms"], limit=100, now=now
        )  # … and the worker dies here
    assert set(ids) <= {m.id for m in leased}
    senders = sender(gateway)
    # still leased by the first worker: not sent twice
    assert await delivery.deliver_batch(db, senders, LINKS, now=now) == 0
    later = now + delivery.LEASE + timedelta(seconds=1)
    while await delivery.deliver_batch(db, senders, LINKS, now=later, limit=100):
        pass
    assert await statuses(db, ids) == {OutboxStatus.SENT: 20}
    assert all(gateway.bodies[f"crash #{n}"] == 1 for n in range(20))


async def test_refused_numbers_are_parked_and_reports_update_status(
    db: Database, keybox: KeyBox, gateway: FakeAfricasTalking
) -> None:
    world = await make_world(db, keybox)
    bad = phone(4242)
    gateway.refuse[bad] = (403, "InvalidPhoneNumber")
    (refused,) = await queue(db, world.organizer_id, "refused", 1, address=bad)
    (good,) = await queue(db, world.organizer_id, "good", 1, address=phone(4343))
    while await delivery.deliver_batch(db, sender(gateway), LINKS):
        pass
    assert await statuses(db, [refused]) == {OutboxStatus.FAILED: 1}
    async with db.transaction() as session:
        row = await session.get_one(OutboxMessage, good)
        assert row.provider_message_id
        assert await delivery.report(session, row.provider_message_id, delivered=True)
        assert not await delivery.report(session, "ATXid_unknown", delivered=True)
    assert await statuses(db, [good]) == {OutboxStatus.DELIVERED: 1}
    async with db.transaction() as session:  # a late "sent"-style failure never undoes delivered
        await delivery.report(session, row.provider_message_id, delivered=False, error="late")
    assert await statuses(db, [good]) == {OutboxStatus.DELIVERED: 1}


def test_back_off_grows_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    delays = [delivery.retry_delay(n, rng) for n in range(1, 12)]
    assert delays[0] <= delivery.BASE_DELAY and delays[3] > delivery.BASE_DELAY * 2
    assert max(delays) <= delivery.MAX_DELAY
