"""Gate check-in: one admission per ticket, whatever the number of gates scanning it."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import make_world
from tests.integration.concurrency import available_connections, race
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.core import checkin, orders, tickets
from tikiti.core.db import Database
from tikiti.core.models import CheckIn, Event
from tikiti.core.signing import KeyBox, verify_payload


async def issued_codes(
    db: Database, keybox: KeyBox, quantity: int = 1
) -> tuple[int, list[str], int]:
    world = await make_world(db, keybox)
    order_id, reference, amount = await hold_and_request(db, world, 1, quantity=quantity)
    result = await settle(db, reference, amount)
    return world.event_id, [t.code for t in result.tickets], order_id


async def scan(db: Database, event_id: int, code: str, gate: str) -> checkin.Scan:
    async with db.transaction() as session:
        return await checkin.check_in(session, event_id=event_id, code=code, gate=gate)


async def test_20_gates_scanning_one_ticket_admit_it_once(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    event_id, (code,), _ = await issued_codes(db, keybox)

    def at_gate(gate: str):  # type: ignore[no-untyped-def]
        async def attempt(database: Database) -> checkin.Scan:
            async with database.transaction() as session:
                return await checkin.check_in(session, event_id=event_id, code=code, gate=gate)

        return attempt

    connections = await available_connections(server_url, 20)
    results = await race(database_url, connections, [at_gate(f"G{n}") for n in range(20)])
    admitted = [
        r for r in results if isinstance(r, checkin.Scan) and r.result == checkin.Result.ADMITTED
    ]
    used = [
        r
        for r in results
        if isinstance(r, checkin.Scan) and r.result == checkin.Result.ALREADY_USED
    ]
    assert len(admitted) == 1 and len(used) == 19
    assert all(u.gate == admitted[0].gate and u.checked_in_at is not None for u in used)
    async with db.session() as session:
        logged = await session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.event_id == event_id)
        )
    assert logged == 20


async def test_second_scan_says_when_and_where(db: Database, keybox: KeyBox) -> None:
    event_id, (code,), _ = await issued_codes(db, keybox)
    first = await scan(db, event_id, code.lower(), "B")  # typed in lower case still matches
    second = await scan(db, event_id, code, "C")
    assert first.result == checkin.Result.ADMITTED
    assert second.result == checkin.Result.ALREADY_USED
    assert second.gate == "B" and second.checked_in_at == first.checked_in_at


async def test_refunded_wrong_event_unknown_and_mistyped_codes_are_refused(
    db: Database, keybox: KeyBox
) -> None:
    event_id, codes, order_id = await issued_codes(db, keybox, quantity=2)
    other_event, _, _ = await issued_codes(db, keybox)
    assert (await scan(db, other_event, codes[0], "A")).result == checkin.Result.WRONG_EVENT
    async with db.transaction() as session:
        await orders.refund(session, order_id, actor="test", reason="test")
    refused = await scan(db, event_id, codes[1], "A")
    assert refused.result == checkin.Result.REFUNDED and "refunded" in refused.reason
    typo = codes[0][:-1] + ("0" if codes[0][-1] != "0" else "1")
    assert (await scan(db, event_id, typo, "A")).result == checkin.Result.INVALID_CODE
    assert (await scan(db, event_id, "0000000000", "A")).result == checkin.Result.NOT_FOUND


async def test_qr_payload_verifies_with_only_the_public_key(db: Database, keybox: KeyBox) -> None:
    event_id, codes, _ = await issued_codes(db, keybox)
    async with db.session() as session:
        from tikiti.core.models import Ticket

        ticket = await session.scalar(select(Ticket).where(Ticket.code == codes[0]))
        assert ticket is not None
        payload = await tickets.qr_payload(session, keybox, ticket.id)
        public = (await session.get_one(Event, event_id)).public_key
    claim = verify_payload(public, payload)
    assert (claim.ticket_id, claim.event_id, claim.version) == (ticket.id, event_id, 1)
