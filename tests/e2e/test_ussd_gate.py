"""Gate staff without a smartphone: dial the same code, PIN, then ticket codes by USSD."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

from sqlalchemy import select

from tests.e2e.conftest import Live
from tests.e2e.test_sms_keywords import Texter
from tests.e2e.ussd import Handset
from tests.factories import World, make_world, phone
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.core import codes, gate_staff
from tikiti.core.db import Database
from tikiti.core.models import AuditEntry, Ticket
from tikiti.core.signing import KeyBox


async def _sold(db: Database, world: World, n: int, quantity: int = 2) -> list[str]:
    _, reference, amount = await hold_and_request(db, world, 8_600_000 + n, quantity=quantity)
    issued = (await settle(db, reference, amount)).tickets
    return [ticket.code for ticket in issued]


async def _staff(db: Database, world: World, number: str, gate: str = "B") -> tuple[int, str]:
    async with db.transaction() as session:
        staff, pin = await gate_staff.add(
            session,
            organizer_id=world.organizer_id,
            event_id=world.event_id,
            gate_name=gate,
            phone=number,
            actor="test",
        )
    return staff.id, pin


def _other_pin(pin: str) -> str:
    return str((int(pin) + 1) % 100_000).zfill(5)


def _staff_phone() -> str:
    return phone(8_000_000 + secrets.randbelow(999_999))


async def test_a_steward_checks_codes_by_ussd_after_a_pin(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(hours=2))
    first, second = await _sold(db, world, 600)
    number = _staff_phone()
    _, pin = await _staff(db, world, number)
    steward = Handset(live.http, live.url, number)

    assert "Enter your gate PIN" in await steward.dial()
    assert "Wrong PIN. 2 tries left." in await steward.send(_other_pin(pin))
    assert "digits only" in await steward.send("12ab")  # a slip costs no try
    screen = await steward.send(pin)
    assert screen.startswith("CON ") and "Gate B: enter a ticket code" in screen
    assert "VALID: General. Let in." in await steward.send(codes.format_code(first))
    await steward.resend()  # the gateway repeats the hop: still one admission
    used = await steward.send(first.lower())
    assert "ALREADY USED" in used and "GATE B" in used
    assert "NOT A TICKET CODE" in await steward.send("HELLO")
    assert "NOT FOUND" in await steward.send(codes.new_code())
    async with db.session() as session:
        rows = await session.execute(
            select(Ticket.code, Ticket.checked_in_gate).where(Ticket.code.in_([first, second]))
        )
        gates = {code: gate for code, gate in rows}
    assert gates == {first: "B", second: None}

    # The USSD session drops; dialling again within minutes goes straight to the codes.
    assert "enter a ticket code" in await steward.dial()
    assert "VALID" in await steward.send(second)
    # 00 leads to the buyer's menu, which keeps a way back to the gate.
    await steward.send("00")
    assert "Gate check-in" in steward.screens[-1]
    back = await steward.choose("Gate check-in")
    assert "enter a ticket code" in back and "VALID" not in back  # no stale answer shown


async def test_three_wrong_pins_lock_the_phone_and_tell_the_organizer(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(hours=2))
    number = _staff_phone()
    staff_id, pin = await _staff(db, world, number)
    steward = Handset(live.http, live.url, number)
    await steward.dial()
    await steward.send(_other_pin(pin))
    await steward.send(_other_pin(pin))
    assert "Too many wrong PINs" in await steward.send(_other_pin(pin))
    assert "Too many wrong PINs" in await steward.send(pin)  # the right one no longer opens it
    async with db.session() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.entity == "gate_staff", AuditEntry.entity_id == str(staff_id)
                )
            )
        ).all()
    assert "gate_staff.locked" in actions


async def test_a_revoked_phone_stops_at_once_and_others_see_the_buyer_menu(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(hours=2))
    (code,) = await _sold(db, world, 601, quantity=1)
    number = _staff_phone()
    staff_id, pin = await _staff(db, world, number)
    steward = Handset(live.http, live.url, number)
    await steward.dial()
    await steward.send(pin)
    async with db.transaction() as session:
        assert await gate_staff.revoke(
            session, staff_id, organizer_id=world.organizer_id, actor="test"
        )
    screen = await steward.send(code)
    assert "no longer registered" in screen and "Buy tickets" in screen
    assert "Gate check-in" not in screen
    async with db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.code == code))
    assert ticket is not None and ticket.checked_in_at is None

    buyer = Handset(live.http, live.url, _staff_phone())
    assert "Buy tickets" in await buyer.dial() and "Gate" not in buyer.screens[-1]


async def test_many_stewards_typing_one_code_at_once_let_it_in_once(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(hours=2))
    (code,) = await _sold(db, world, 602, quantity=1)
    stewards = []
    for n in range(12):
        number = _staff_phone()
        _, pin = await _staff(db, world, number, gate=f"G{n}")
        steward = Handset(live.http, live.url, number)
        await steward.dial()
        await steward.send(pin)
        stewards.append(steward)
    screens = await asyncio.gather(*(s.send(code) for s in stewards))
    assert sum("VALID" in s and "ALREADY" not in s for s in screens) == 1
    assert sum("ALREADY USED" in s for s in screens) == len(stewards) - 1


async def test_codes_before_the_gates_open_are_refused(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(days=3))
    (code,) = await _sold(db, world, 603, quantity=1)
    number = _staff_phone()
    _, pin = await _staff(db, world, number)
    steward = Handset(live.http, live.url, number)
    await steward.dial()
    await steward.send(pin)
    assert "NOT YET: gates admit from" in await steward.send(code)


async def test_a_steward_can_check_codes_by_sms_too(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, starts_in=timedelta(hours=2))
    (code,) = await _sold(db, world, 604, quantity=1)
    number = _staff_phone()
    _, pin = await _staff(db, world, number, gate="North")
    steward = Texter(live, number)
    assert "Enter your gate PIN" in await steward.send("hello")
    assert "Gate North: enter a ticket code" in await steward.send(pin)
    assert "VALID" in await steward.send(code)
    assert "ALREADY USED" in await steward.send(code) and "GATE North" in steward.replies[-1]
