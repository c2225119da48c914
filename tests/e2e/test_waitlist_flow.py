"""A fan who missed the on-sale joins the waiting list, is offered a returned place, and pays;
an offer left unpaid goes to the next in line."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.e2e.conftest import Live
from tests.e2e.test_sms_keywords import Texter, hold_and_request_for
from tests.e2e.test_ussd import approve, settled, shop
from tests.e2e.ussd import Handset
from tests.factories import phone
from tikiti.core import orders, waitlist
from tikiti.core.db import Database
from tikiti.core.models import OrderStatus, OutboxMessage, WaitlistEntry
from tikiti.core.signing import KeyBox


async def test_join_by_ussd_and_sms_then_pay_an_offer_and_let_one_lapse(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live, ga_capacity=2, hold_minutes=5)
    for n in range(2):  # two buyers hold the last places but will not pay
        await hold_and_request_for(db, world, phone(3_100_000 + n))

    first = Handset(live.http, live.url, phone(3_200_000 + secrets.randbelow(99_999)))
    await first.dial()
    await first.choose("Buy tickets")
    await first.choose("Test Festival")
    asked = await first.choose("General")
    assert "is sold out. Join the waiting list?" in asked
    joined = await first.choose("Join the waiting list")
    assert joined.startswith("END You are number 1 in line for General")

    second = Texter(live, phone(3_300_000 + secrets.randbelow(99_999)))
    assert "You are number 2 in line" in await second.send(f"wait {world.event_code} general")

    # The two holds lapse; the worker offers both places, in line order.
    later = datetime.now(UTC) + timedelta(minutes=6)
    async with db.transaction() as session:
        assert len(await orders.expire_due(session, now=later)) == 2
        assert await waitlist.offer_due(session, now=later) == 2
        offers = {
            m.address: m.body
            for m in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "waitlist_offer")
            )
        }
    assert "is held for you until" in offers[first.phone]
    reference = offers[second.phone].split("PAY ")[1].split()[0]

    # The second pays by SMS with the reference from the offer; the first lets it lapse.
    screen = await second.send(f"PAY {reference}")
    assert "this number" in screen.lower(), screen
    await second.send("1")  # this number
    await second.send("1")  # EcoCash
    assert "Approve" in await second.send("1")  # confirm
    await approve(live, second)  # type: ignore[arg-type]
    paid = await settled(db, second.phone, OrderStatus.FULFILLED)
    assert [o.status for o in paid] == [OrderStatus.FULFILLED]

    # The first dials and sees the offer on the home menu (it is still held for them).
    home = await first.dial()
    assert "Pay for my offer" in home
    much_later = later + timedelta(minutes=6)
    async with db.transaction() as session:
        await orders.expire_due(session, now=much_later)
        await waitlist.offer_due(session, now=much_later)
        statuses = {
            e.phone: e.status
            for e in await session.scalars(
                select(WaitlistEntry).where(WaitlistEntry.tier_id == world.ga_tier_id)
            )
        }
    assert statuses == {first.phone: "lapsed", second.phone: "bought"}
