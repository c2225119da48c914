"""Transfers: a one-time code, a new code and version, the organizer's rules, and no race
with the gate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.factories import World, make_world, phone
from tests.integration.concurrency import available_connections, race
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.core import checkin, transfers
from tikiti.core.checkin import Result
from tikiti.core.db import Database
from tikiti.core.models import Event, OutboxMessage, Ticket
from tikiti.core.signing import KeyBox


async def _ticket(db: Database, world: World, n: int) -> Ticket:
    _, reference, amount = await hold_and_request(db, world, n, quantity=1)
    (issued,) = (await settle(db, reference, amount)).tickets
    async with db.session() as session:
        return await session.get_one(Ticket, issued.id)


async def _one_time(db: Database, transfer_id: int) -> str:
    async with db.session() as session:
        body = await session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.dedupe_key == f"transfer_code:{transfer_id}"
            )
        )
    assert body is not None
    return body.split(" is ")[1][:5]


async def _ask(db: Database, ticket: Ticket, to: str, now: datetime | None = None) -> int:
    async with db.transaction() as session:
        return await transfers.request(
            session,
            ticket_id=ticket.id,
            holder_phone=ticket.holder_phone,
            to_phone=to,
            channel="sms",
            language="en",
            now=now or datetime.now(UTC),
        )


async def _confirm(
    db: Database, transfer_id: int, holder: str, code: str
) -> transfers.Done | transfers.Refused:
    async with db.transaction() as session:
        return await transfers.confirm(
            session,
            transfer_id=transfer_id,
            holder_phone=holder,
            one_time=code,
            now=datetime.now(UTC),
        )


async def _scan(db: Database, world: World, code: str) -> checkin.Scan:
    async with db.transaction() as session:
        return await checkin.check_in(session, event_id=world.event_id, code=code, gate="A")


async def test_a_transfer_gives_a_new_code_and_the_old_one_stops_at_once(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    ticket = await _ticket(db, world, 8_800_000 + 801)
    new_holder = phone(8_800_000 + 802)
    transfer_id = await _ask(db, ticket, new_holder)
    wrong = await _confirm(db, transfer_id, ticket.holder_phone, "00000")
    assert wrong == transfers.Refused(transfers.Refusal.WRONG_CODE, tries_left=2)
    done = await _confirm(db, transfer_id, ticket.holder_phone, await _one_time(db, transfer_id))
    assert isinstance(done, transfers.Done)
    assert done.to_phone == new_holder and done.code != ticket.code
    assert (await _scan(db, world, ticket.code)).result == Result.NOT_FOUND
    assert (await _scan(db, world, done.code)).result == Result.ADMITTED
    async with db.session() as session:
        moved = await session.get_one(Ticket, ticket.id)
        assert moved.holder_phone == new_holder and moved.version == ticket.version + 1
        sent = (
            await session.scalars(
                select(OutboxMessage.address).where(
                    OutboxMessage.dedupe_key == f"ticket:{ticket.id}:{moved.version}"
                )
            )
        ).all()
        assert sent == [new_holder]
        assert [(link.from_phone, link.to_phone) for link in await transfers.chain(
            session, ticket.id
        )] == [(ticket.holder_phone, new_holder)]  # fmt: skip


async def test_the_organizers_rules_and_a_used_ticket_refuse_a_transfer(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(days=2))
    first = await _ticket(db, world, 8_800_000 + 811)
    with pytest.raises(transfers.TransferRefused) as same:
        await _ask(db, first, first.holder_phone)
    assert same.value.reason == transfers.Refusal.SAME_PHONE
    late = datetime.now(UTC) + timedelta(days=2) - timedelta(minutes=30)
    with pytest.raises(transfers.TransferRefused) as too_late:
        await _ask(db, first, phone(8_800_000 + 812), now=late)
    assert too_late.value.reason == transfers.Refusal.TOO_LATE

    async with db.transaction() as session:
        await session.execute(
            update(Event).where(Event.id == world.event_id).values(max_transfers=1)
        )
    ticket_id = await _ask(db, first, phone(8_800_000 + 812))
    done = await _confirm(db, ticket_id, first.holder_phone, await _one_time(db, ticket_id))
    assert isinstance(done, transfers.Done)
    async with db.session() as session:
        moved = await session.get_one(Ticket, done.ticket_id)
    with pytest.raises(transfers.TransferRefused) as again:
        await _ask(db, moved, phone(8_800_000 + 813))
    assert again.value.reason == transfers.Refusal.TOO_MANY

    used = await _ticket(db, world, 8_800_000 + 814)
    assert (await _scan(db, world, used.code)).result == Result.ADMITTED
    with pytest.raises(transfers.TransferRefused) as checked_in:
        await _ask(db, used, phone(8_800_000 + 815))
    assert checked_in.value.reason == transfers.Refusal.USED

    async with db.transaction() as session:
        await session.execute(
            update(Event).where(Event.id == world.event_id).values(transfers_allowed=False)
        )
    other = await _ticket(db, world, 8_800_000 + 816)
    with pytest.raises(transfers.TransferRefused) as closed:
        await _ask(db, other, phone(8_800_000 + 817))
    assert closed.value.reason == transfers.Refusal.NOT_ALLOWED


async def test_three_wrong_codes_cancel_the_transfer(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    ticket = await _ticket(db, world, 8_800_000 + 821)
    transfer_id = await _ask(db, ticket, phone(8_800_000 + 822))
    right = await _one_time(db, transfer_id)
    wrong = str((int(right) + 1) % 100_000).zfill(5)
    answers = [await _confirm(db, transfer_id, ticket.holder_phone, wrong) for _ in range(3)]
    assert [a.tries_left for a in answers if isinstance(a, transfers.Refused)] == [2, 1, 0]
    gone = await _confirm(db, transfer_id, ticket.holder_phone, right)
    assert gone == transfers.Refused(transfers.Refusal.EXPIRED)


async def test_a_transfer_and_a_check_in_at_the_same_instant_never_both_win(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox)
    connections = await available_connections(server_url, 2)
    for trial in range(12):
        ticket = await _ticket(db, world, 8_800_830 + trial)
        transfer_id = await _ask(db, ticket, phone(8_800_900 + trial))
        one_time = await _one_time(db, transfer_id)

        async def move(
            database: Database, t: Ticket = ticket, i: int = transfer_id, c: str = one_time
        ) -> object:
            return await _confirm(database, i, t.holder_phone, c)

        async def enter(database: Database, t: Ticket = ticket) -> object:
            return await _scan(database, world, t.code)

        moved, scanned = await race(database_url, connections, [move, enter])
        transferred = isinstance(moved, transfers.Done)
        admitted = isinstance(scanned, checkin.Scan) and scanned.result == Result.ADMITTED
        assert transferred != admitted, (trial, moved, scanned)
        async with db.session() as session:
            final = await session.get_one(Ticket, ticket.id)
        assert (final.checked_in_at is not None) == admitted
        assert (final.version == ticket.version + 1) == transferred
    await asyncio.sleep(0)
