"""Giving a ticket to a friend from a feature phone: My tickets → ticket → give it away."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from tests.e2e.conftest import Live
from tests.e2e.test_sms_keywords import hold_and_request_for
from tests.e2e.ussd import Handset
from tests.factories import make_world, phone
from tests.integration.test_settlement import settle
from tikiti.core import checkin
from tikiti.core.checkin import Result
from tikiti.core.db import Database
from tikiti.core.models import OutboxMessage, Ticket
from tikiti.core.signing import KeyBox


async def test_a_holder_gives_a_ticket_to_a_friend_over_ussd(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    holder = Handset(live.http, live.url, phone(4_100_000 + secrets.randbelow(99_999)))
    _, reference, amount = await hold_and_request_for(db, world, holder.phone)
    (issued,) = (await settle(db, reference, amount)).tickets
    friend = phone(4_200_000 + secrets.randbelow(99_999))

    await holder.dial()
    await holder.choose("My tickets")
    await holder.choose("Test Festival")
    assert "new holder's phone" in await holder.choose("Give it to another phone")
    assert "is this phone's own number" in await holder.send(holder.phone)
    await holder.choose("Give it to another phone")
    asked = await holder.send("0" + friend[4:])
    assert "We sent you a code by SMS" in asked
    async with db.session() as session:
        body = await session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.address == holder.phone, OutboxMessage.kind == "transfer_code"
            )
        )
    assert body is not None
    one_time = body.split(" is ")[1][:5]
    assert "Wrong code. 2 tries left." in await holder.send(
        "00001" if one_time != "00001" else "00002"
    )
    done = await holder.send(one_time)
    assert done.startswith("END Done.") and "no longer works" in done

    async with db.transaction() as session:
        old = await checkin.check_in(session, event_id=world.event_id, code=issued.code, gate="A")
        ticket = await session.get_one(Ticket, issued.id)
        new = await checkin.check_in(session, event_id=world.event_id, code=ticket.code, gate="A")
    assert old.result == Result.NOT_FOUND and new.result == Result.ADMITTED
    assert ticket.holder_phone == friend

    buyer = Handset(live.http, live.url, friend)
    await buyer.dial()
    assert "Test Festival" in await buyer.choose("My tickets")
