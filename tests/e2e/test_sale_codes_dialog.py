"""Promo and seller codes in the dialog: typed at the confirm screen on USSD, or at the end of
`BUY …` by SMS; the order carries the discount and the seller."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from tests.e2e.conftest import Live
from tests.e2e.test_sms_keywords import Texter
from tests.e2e.test_ussd import approve, settled, shop
from tests.e2e.ussd import Handset
from tests.factories import World, phone
from tikiti.core import promos, resellers
from tikiti.core.db import Database
from tikiti.core.models import Order, OrderStatus, Ticket
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


async def _codes(db: Database, world: World) -> tuple[str, str, str]:
    suffix = secrets.token_hex(2).upper()
    half, free, seller = f"HALF{suffix}", f"FREE{suffix}", f"TINO{suffix}"
    async with db.transaction() as session:
        await promos.add(
            session, event_id=world.event_id, code=half,
            terms=promos.Terms(percent_bps=5000, max_uses=5), actor="test",
        )  # fmt: skip
        await promos.add(
            session, event_id=world.event_id, code=free,
            terms=promos.Terms(percent_bps=10_000, max_uses=1), actor="test",
        )  # fmt: skip
        await resellers.add(
            session, organizer_id=world.organizer_id, code=seller, name="Tino",
            commission_bps=500, actor="test",
        )  # fmt: skip
    return half, free, seller


async def test_a_promo_code_typed_at_confirm_halves_the_price(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    half, _, _ = await _codes(db, world)
    handset = Handset(live.http, live.url, phone(9_500_000 + secrets.randbelow(99_999)))
    await handset.dial()
    for key in ("1", "1", "1", "2", "1", "1"):  # buy, event, General, 2, this number, EcoCash
        await handset.send(key)
    confirm = handset.screens[-1]
    assert "Total USD 20.00" in confirm and "I have a code" in confirm
    assert "Type the promo or seller code" in await handset.choose("I have a code")
    assert "No such code" in await handset.send("NOPE")
    discounted = await handset.send(half.lower())
    assert "Total USD 10.00" in discounted and "I have a code" not in discounted
    paying = await handset.choose("Confirm and pay")
    assert "USD 10.00" in paying
    await approve(live, handset)
    (order,) = await settled(db, handset.phone, OrderStatus.FULFILLED)
    assert order.total_minor == 1000 and order.discount_minor == 1000


async def test_a_seller_code_and_a_free_code_by_sms_keyword(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    _, free, seller = await _codes(db, world)
    buyer = Texter(live, phone(9_600_000 + secrets.randbelow(99_999)))
    await buyer.send(f"BUY {world.event_code} GA 1 {seller}")
    await buyer.send("1")
    await buyer.send("1")
    assert "Approve" in await buyer.send("1")
    await approve(live, buyer)  # type: ignore[arg-type]
    (order,) = await settled(db, buyer.phone, OrderStatus.FULFILLED)
    async with db.session() as session:
        found = await resellers.find(session, organizer_id=world.organizer_id, code=seller)
    assert order.reseller_id == found.id

    friend = Texter(live, phone(9_700_000 + secrets.randbelow(99_999)))
    await friend.send(f"buy {world.event_code} ga 1 {free.lower()}")
    await friend.send("1")
    confirm = await friend.send("1")
    assert "Total USD 0.00" in confirm, confirm
    done = await friend.send("1")
    assert "free with this code" in done, done
    async with db.session() as session:
        order = await session.scalar(select(Order).where(Order.buyer_phone == friend.phone))
        assert order is not None and order.status == OrderStatus.FULFILLED
        count = len(
            (await session.scalars(select(Ticket).where(Ticket.order_id == order.id))).all()
        )
    assert count == 1 and Money(order.total_minor, order.currency).minor == 0
