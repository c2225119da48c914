"""The day before an event, each ticket holder hears once, in their language."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from tests.factories import make_world
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.core import buyers, reminders
from tikiti.core.db import Database
from tikiti.core.models import Event, OutboxMessage
from tikiti.core.signing import KeyBox


async def test_one_reminder_per_holder_per_event_in_their_language(
    db: Database, keybox: KeyBox
) -> None:
    # A start time no other test uses, so the day-before window holds only this event.
    world = await make_world(db, keybox, name="Reminder Fest", starts_in=timedelta(days=777))
    for n in (1, 2):
        _, reference, amount = await hold_and_request(db, world, 700 + n, quantity=2)
        await settle(db, reference, amount)
    async with db.session() as session:
        starts = (await session.get_one(Event, world.event_id)).starts_at
    async with db.transaction() as session:
        await buyers.set_language(session, "+263770000702", "sw")
    too_early = starts - timedelta(days=3)
    async with db.transaction() as session:
        assert await reminders.queue_due(session, now=too_early) == 0
    day_before = starts - timedelta(hours=20)
    async with db.transaction() as session:
        assert await reminders.queue_due(session, now=day_before) == 2
    async with db.transaction() as session:  # a second run (another worker) adds nothing
        assert await reminders.queue_due(session, now=day_before + timedelta(minutes=5)) == 0
    async with db.session() as session:
        sent = (
            await session.execute(
                select(OutboxMessage.address, OutboxMessage.language, OutboxMessage.body).where(
                    OutboxMessage.kind == "reminder", OutboxMessage.body.contains("Reminder Fest")
                )
            )
        ).all()
    by_phone = {address: (language, body) for address, language, body in sent}
    assert set(by_phone) == {"+263770000701", "+263770000702"}
    assert by_phone["+263770000702"][0] == "sw"
    assert all(len(body) <= 160 for _, body in by_phone.values())
    assert "2 ticket" in by_phone["+263770000701"][1]
    assert day_before.tzinfo == UTC
