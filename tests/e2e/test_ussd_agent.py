"""An agent at a kiosk sells tickets over USSD for cash, from the float, for a buyer."""

from __future__ import annotations

import secrets
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select

from tests.conftest import LINKS
from tests.e2e.conftest import Live
from tests.e2e.ussd import Handset
from tests.factories import World, make_world, phone
from tikiti.channels.sms_sandbox import SandboxSms
from tikiti.core import agents, delivery
from tikiti.core.db import Database
from tikiti.core.models import Agent, Order, OrderStatus, Ticket
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


async def _agent(db: Database, world: World, *, float_usd: int) -> tuple[str, str]:
    number = phone(5_000_000 + secrets.randbelow(999_999))
    async with db.transaction() as session:
        agent, one_time = await agents.add(
            session,
            organizer_id=world.organizer_id,
            phone=number,
            name="Tino's kiosk",
            currency="USD",
            float_limit=Money(0, "USD"),
            commission_bps=500,
            actor="test",
        )
        await agents.top_up(
            session,
            agent_id=agent.id,
            organizer_id=world.organizer_id,
            amount=Money(float_usd * 100, "USD"),
            actor="test",
            reason="cash",
        )
    return number, one_time


async def test_an_agent_sets_a_pin_and_sells_three_tickets_for_a_buyer(
    live: Live, db: Database, keybox: KeyBox, redis_url: str, redis_prefix: str
) -> None:
    world = await make_world(db, keybox, price_minor=1000, starts_in=timedelta(days=5))
    number, one_time = await _agent(db, world, float_usd=100)
    kiosk = Handset(live.http, live.url, number)
    assert "Tikiti agent Tino's kiosk. Enter your PIN" in await kiosk.dial()
    assert "Choose your own PIN" in await kiosk.send(one_time)
    assert "not 1111 or 1234" in await kiosk.send("1234")
    assert "Enter the new PIN again" in await kiosk.send("24680")
    assert "were different" in await kiosk.send("24681")
    await kiosk.send("24680")
    home = await kiosk.send("24680")
    assert "Agent Tino's kiosk" in home and "Sell tickets" in home

    await kiosk.choose("Sell tickets")
    await kiosk.choose("Test Festival")
    await kiosk.choose("General")
    assert "buyer's phone" in await kiosk.send("3")
    buyer = phone(5_999_000 + secrets.randbelow(999))
    confirm = await kiosk.send("0" + buyer[4:])  # as people type it: 077…
    assert "3 x General" in confirm and "USD 30.00" in confirm and "Enter your PIN" in confirm
    assert "Wrong PIN. 2 tries left." in await kiosk.send("13579")
    sold = await kiosk.send("24680")
    assert sold.startswith("END Sold.") and "Float USD 70.00" in sold

    async with db.session() as session:
        order = await session.scalar(select(Order).where(Order.buyer_phone == buyer))
        assert order is not None and order.status == OrderStatus.FULFILLED
        codes = (
            await session.scalars(select(Ticket.code).where(Ticket.order_id == order.id))
        ).all()
        agent = await session.scalar(select(Agent).where(Agent.phone == number))
    assert len(codes) == 3 and agent is not None and agent.float_minor == 7000

    redis = Redis.from_url(redis_url)
    try:
        sms = SandboxSms(redis, redis_prefix)
        while await delivery.deliver_batch(db, {"sms": sms, "agent": sms}, LINKS):
            pass
        async with live.http.get(f"{live.url}/sandbox-sms/{buyer}") as response:
            bodies = [m["body"] for m in (await response.json())["messages"]]
        async with live.http.get(f"{live.url}/sandbox-sms/{number}") as response:
            receipts = [m["body"] for m in (await response.json())["messages"]]
    finally:
        await redis.aclose()
    assert len(bodies) == 3 and all("Ticket code" in b for b in bodies)
    assert any(f"Order {order.reference}" in r and "Float USD 70.00" in r for r in receipts)

    # The same phone, a new session: PIN, then the float, today's sales and a code check.
    await kiosk.dial()
    await kiosk.send("24680")
    assert "Float: USD 70.00. Commission earned: USD 1.50." in await kiosk.choose("Float")
    await kiosk.send("0")
    assert "Today: 1 sales, 3 tickets, USD 30.00." in await kiosk.choose("Today")
    await kiosk.send("0")
    history = await kiosk.choose("Last 5")
    assert "Sale -USD 30.00" in history and "Top-up +USD 100.00" in history
    await kiosk.send("0")
    await kiosk.choose("Check a ticket")
    assert "VALID: Test Festival, General. Not used yet." in await kiosk.send(codes[0])
    assert "NOT FOUND" in await kiosk.send("0000000000")


async def test_three_wrong_pins_lock_the_agent(live: Live, db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    number, one_time = await _agent(db, world, float_usd=10)
    kiosk = Handset(live.http, live.url, number)
    await kiosk.dial()
    wrong = str((int(one_time) + 1) % 100_000).zfill(5)
    await kiosk.send(wrong)
    await kiosk.send(wrong)
    assert "Too many wrong PINs" in await kiosk.send(wrong)
    assert "Too many wrong PINs" in await kiosk.send(one_time)
