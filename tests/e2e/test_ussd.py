"""Buying over USSD as Africa's Talking relays a feature phone, hop by hop."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from tests.conftest import LINKS
from tests.e2e.conftest import Live, sandbox_account, settings_for
from tests.e2e.ussd import Handset
from tests.factories import World, make_world, phone
from tikiti.core.db import Database
from tikiti.core.models import Hold, Order, OrderStatus, OutboxMessage, Ticket, Tier
from tikiti.core.signing import KeyBox
from tikiti.web import create_app

LANGUAGE_KEYS = {"en": "1", "sn": "2", "nd": "3", "sw": "4"}


async def shop(db: Database, keybox: KeyBox, live: Live, **options: object) -> World:
    world = await make_world(db, keybox, **options)  # type: ignore[arg-type]
    await sandbox_account(db, keybox, world.organizer_id, live.url)
    return world


async def approve(live: Live, handset: Handset, pin: str = "1234", wait: float = 5) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        async with live.http.get(f"{live.url}/sandbox/phone/{handset.phone}/prompts") as r:
            prompts = (await r.json())["prompts"]
        if prompts:
            action = {"action": "approve", "pin": pin} if pin else {"action": "decline"}
            async with live.http.post(
                f"{live.url}/sandbox/phone/prompts/{prompts[0]['id']}", json=action
            ) as r:
                assert r.status == 200
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no payment prompt reached the phone")


async def orders_of(db: Database, buyer: str) -> list[Order]:
    async with db.session() as session:
        return list((await session.scalars(select(Order).where(Order.buyer_phone == buyer))).all())


async def settled(db: Database, buyer: str, want: OrderStatus, wait: float = 10) -> list[Order]:
    deadline = time.monotonic() + wait
    while True:
        found = await orders_of(db, buyer)
        if (found and all(o.status == want for o in found)) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def buy_by_keys(handset: Handset, quantity: str = "2") -> str:
    """The whole journey by keys alone: the newest event is first on the list."""
    for key in ("1", "1", "1", quantity, "1", "1"):
        screen = await handset.send(key)
        assert screen.startswith("CON "), screen
    return await handset.send("1")


@pytest.mark.parametrize("language", sorted(LANGUAGE_KEYS))
async def test_a_full_purchase_in_each_language(
    live: Live, db: Database, keybox: KeyBox, language: str
) -> None:
    await shop(db, keybox, live)
    handset = Handset(live.http, live.url, phone(1000 + list(LANGUAGE_KEYS).index(language)))
    await handset.dial()
    await handset.send("3")  # Language
    home = await handset.send(LANGUAGE_KEYS[language])
    end = await buy_by_keys(handset)
    assert end.startswith("END ") and "USD 20.00" in end
    await approve(live, handset)
    (order,) = await settled(db, handset.phone, OrderStatus.FULFILLED)
    assert order.language == language
    async with db.session() as session:
        tickets = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.order_id == order.id)
        )
    assert tickets == 2
    # The language is remembered for the next call.
    assert await handset.dial() == home


async def test_back_home_and_more_work_from_every_state(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live, name="Navigation Fest")
    handset = Handset(live.http, live.url, phone(2000))
    journey = ["1", "1", "1", "2", "2", "0771234567", "1"]  # … other number, then EcoCash
    screens = [await handset.dial()]
    for key in journey:
        screens.append(await handset.send(key))
    # From the confirm screen, 0 walks back one screen at a time to the start.
    for expected in reversed(screens[:-1]):
        assert await handset.send("0") == expected
    assert await handset.send("0") == screens[0]  # home stays home
    # 00 goes home from deep inside.
    for key in journey[:4]:
        await handset.send(key)
    assert await handset.send("00") == screens[0]
    # 98 pages through a list that does not fit one screen.
    await make_many_events(db, keybox, live)
    first_page = await handset.send("1")
    assert "98 More" in first_page
    second_page = await handset.send("98")
    assert second_page != first_page and second_page.startswith("CON ")
    assert (await handset.send("0")) == screens[0]


async def make_many_events(db: Database, keybox: KeyBox, live: Live) -> None:
    for n in range(12):
        await shop(db, keybox, live, name=f"Paging Fest {n:02d}")


async def test_invalid_input_reshows_the_screen_with_a_reason_and_changes_nothing(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live, per_order_limit=4)
    handset = Handset(live.http, live.url, phone(3000))
    await handset.dial()
    assert "Please reply with one of the numbers shown." in await handset.send("7")
    for key in ("1", "1", "1"):
        await handset.send(key)
    assert "Reply with a number from 1 to 4." in await handset.send("9")
    assert "Reply with a number from 1 to 4." in await handset.send("two")
    await handset.send("1")
    await handset.send("2")  # another number
    assert "not a mobile number" in await handset.send("12345")
    assert await orders_of(db, handset.phone) == []
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert tier.held == 0


async def test_a_resent_hop_does_not_advance_twice_or_hold_twice(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    handset = Handset(live.http, live.url, phone(4000))
    await handset.dial()
    first = await handset.send("1")
    assert await handset.resend() == first
    for key in ("1", "1", "2", "1", "1"):
        await handset.send(key)
    end = await handset.send("1")
    assert await handset.resend() == end
    assert len(await orders_of(db, handset.phone)) == 1
    async with db.session() as session:
        held = await session.scalar(
            select(func.sum(Hold.quantity)).where(Hold.tier_id == world.ga_tier_id)
        )
    assert held == 2


async def test_sold_out_while_choosing_is_told_on_one_screen(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live, ga_capacity=2)
    slow = Handset(live.http, live.url, phone(5000))
    quick = Handset(live.http, live.url, phone(5001))
    await slow.dial()
    for key in ("1", "1", "1", "2", "1", "1"):
        await slow.send(key)  # at the confirm screen
    await quick.dial()
    assert (await buy_by_keys(quick)).startswith("END ")
    screen = await slow.send("1")
    assert screen.startswith("CON ") and "sold out" in screen.lower()
    assert "SOLD OUT" in screen  # the tier list now says so
    assert [o.status for o in await orders_of(db, slow.phone)] == []
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
    assert tier.held == 2


async def test_a_declined_payment_frees_the_places_and_says_so_by_sms(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    handset = Handset(live.http, live.url, phone(6000))
    await handset.dial()
    await buy_by_keys(handset)
    await approve(live, handset, pin="")
    (order,) = await settled(db, handset.phone, OrderStatus.CANCELLED)
    async with db.session() as session:
        tier = await session.get_one(Tier, world.ga_tier_id)
        told = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_id == order.id, OutboxMessage.kind == "payment_failed")
        )
    assert tier.held == 0 and told == 1


async def test_my_tickets_shows_and_resends_them(live: Live, db: Database, keybox: KeyBox) -> None:
    await shop(db, keybox, live, name="Resend Fest")
    handset = Handset(live.http, live.url, phone(7000))
    await handset.dial()
    await buy_by_keys(handset, quantity="1")
    await approve(live, handset)
    await settled(db, handset.phone, OrderStatus.FULFILLED)
    await handset.dial()
    listing = await handset.send("2")
    assert "Your tickets" in listing
    ticket = await handset.choose("General")
    assert "Resend Fest" in ticket and "Code" in ticket
    assert (await handset.send("1")).startswith("END ")
    await handset.dial()
    for key in ("2", "1"):
        await handset.send(key)
    assert "a few minutes ago" in await handset.send("1")  # no SMS flood


async def test_malformed_hops_are_refused_with_400(live: Live) -> None:
    url = f"{live.url}/channels/ussd/africastalking"
    cases = [
        {},
        {"sessionId": "x", "phoneNumber": "+263771234567"},
        {"sessionId": "bad id!", "phoneNumber": "+263771234567", "text": ""},
        {"sessionId": "ATUid_1", "phoneNumber": "not a phone", "text": ""},
        {"sessionId": "ATUid_1", "phoneNumber": "+263771234567", "text": "1*" * 400},
    ]
    for form in cases:
        async with live.http.post(url, data=form) as response:
            assert response.status == 400, form


async def test_hops_without_the_callback_token_are_refused(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    """Africa's Talking signs nothing, so in production the callback URL carries a secret."""
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        callback_token="s3cret-token-for-the-gateway"
    )
    form = {"sessionId": "ATUid_tok", "phoneNumber": "+263771234567", "text": ""}
    async with TestClient(TestServer(create_app(settings))) as client:
        for query, expected in (
            ("", 403),
            ("?token=guess", 403),
            ("?token=s3cret-token-for-the-gateway", 200),
        ):
            response = await client.post(f"/channels/ussd/africastalking{query}", data=form)
            assert response.status == expected, query


async def test_the_tickets_arrive_by_sms_on_the_buyers_phone(
    live: Live, db: Database, keybox: KeyBox, redis_url: str, redis_prefix: str
) -> None:
    from redis.asyncio import Redis

    from tikiti.channels.sms_sandbox import SandboxSms
    from tikiti.core import delivery
    from tikiti.core.codes import format_code

    await shop(db, keybox, live, name="Delivery Fest")
    handset = Handset(live.http, live.url, phone(8000))
    await handset.dial()
    await buy_by_keys(handset, quantity="2")
    await approve(live, handset)
    (order,) = await settled(db, handset.phone, OrderStatus.FULFILLED)
    redis = Redis.from_url(redis_url)
    try:
        sms = SandboxSms(redis, redis_prefix)
        while await delivery.deliver_batch(db, {"ussd": sms, "sms": sms}, LINKS):
            pass
    finally:
        await redis.aclose()
    async with live.http.get(f"{live.url}/sandbox-sms/{handset.phone}") as response:
        inbox = (await response.json())["messages"]
    async with db.session() as session:
        codes = (
            await session.scalars(select(Ticket.code).where(Ticket.order_id == order.id))
        ).all()
    bodies = [m["body"] for m in inbox]
    assert len(bodies) == 2
    assert all(any(format_code(code) in body for body in bodies) for code in codes)
    assert all("Delivery Fest" in body and len(body) <= 160 for body in bodies)


async def test_a_wrong_key_on_a_ticket_sends_no_sms(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live, name="Quiet Fest")
    handset = Handset(live.http, live.url, phone(9100))
    await handset.dial()
    await buy_by_keys(handset, quantity="1")
    await approve(live, handset)
    await settled(db, handset.phone, OrderStatus.FULFILLED)
    await handset.dial()
    await handset.send("2")
    await handset.send("1")  # the ticket
    assert "Please reply with one of the numbers shown." in await handset.send("5")
    async with db.session() as session:
        resends = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "ticket_resend", OutboxMessage.address == handset.phone)
        )
    assert resends == 0
