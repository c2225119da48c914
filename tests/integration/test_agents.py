"""Agents' floats: spent by sales, filled by top-ups, never below zero under any race."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import World, make_world, phone
from tests.integration.concurrency import available_connections, race
from tikiti.core import agent_sales, agents, ledger
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput, SoldOut
from tikiti.core.models import Agent, LedgerEntry, Order, OutboxMessage, Ticket
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


def _agent_phone() -> str:
    return phone(6_000_000 + secrets.randbelow(999_999))


async def _agent(
    db: Database, world: World, *, float_usd: int = 0, limit_usd: int = 0, bps: int = 500
) -> int:
    async with db.transaction() as session:
        agent, _ = await agents.add(
            session,
            organizer_id=world.organizer_id,
            phone=_agent_phone(),
            name="Kiosk 4, Mbare",
            currency="USD",
            float_limit=Money(limit_usd * 100, "USD"),
            commission_bps=bps,
            actor="test",
        )
        if float_usd:
            await agents.top_up(
                session,
                agent_id=agent.id,
                organizer_id=world.organizer_id,
                amount=Money(float_usd * 100, "USD"),
                actor="test",
                reason="cash at the office",
            )
        return agent.id


async def _sell(db: Database, world: World, agent_id: int, n: int, quantity: int = 1) -> object:
    async with db.transaction() as session:
        return await agent_sales.sell(
            session,
            agent_id=agent_id,
            event_id=world.event_id,
            tier_id=world.ga_tier_id,
            quantity=quantity,
            buyer_phone=phone(8_700_000 + n),
            language="en",
            idempotency_key=f"test-sale:{agent_id}:{n}:{secrets.token_hex(4)}",
        )


async def test_a_sale_spends_the_float_issues_tickets_and_accrues_commission(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, price_minor=1000)
    agent_id = await _agent(db, world, float_usd=100, bps=500)
    sale = await _sell(db, world, agent_id, 50, quantity=3)
    assert isinstance(sale, agent_sales.Sale)
    assert sale.total == Money(3000, "USD") and sale.float_left == Money(7000, "USD")
    assert sale.commission == Money(150, "USD") and len(sale.codes) == 3
    async with db.session() as session:
        order = await session.get_one(Order, sale.order_id)
        assert order.status.value == "fulfilled" and order.agent_id == agent_id
        assert order.channel == "agent"
        sms = (
            await session.scalars(select(OutboxMessage.address).where(
                OutboxMessage.order_id == order.id
            ))
        ).all()  # fmt: skip
        assert sms.count(phone(8_700_050)) == 3  # one ticket SMS each, to the buyer
        account = ledger.agent_float_account(agent_id)
        assert await ledger.balance(session, world.organizer_id, account, "USD") == -7000
        commission = ledger.agent_commission_account(agent_id)
        assert await ledger.balance(session, world.organizer_id, commission, "USD") == -150
        history = await agent_sales.movements(session, agent_id)
        assert [m.amount.minor for m in history] == [-3000, 10000]
        done = await agent_sales.today(session, agent_id)
        assert (done.orders, done.tickets, done.total) == (1, 3, Money(3000, "USD"))


async def test_a_sale_bigger_than_the_float_leaves_nothing_behind(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, price_minor=1000)
    agent_id = await _agent(db, world, float_usd=15)
    with pytest.raises(agents.InsufficientFloat):
        await _sell(db, world, agent_id, 51, quantity=2)
    async with db.session() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Order).where(Order.agent_id == agent_id)
            )
            == 0
        )
        agent = await session.get_one(Agent, agent_id)
        assert agent.float_minor == 1500
        tier_held = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.event_id == world.event_id)
        )
        assert tier_held == 0


async def test_racing_sales_and_a_top_up_never_take_the_float_below_zero(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, price_minor=1000, ga_capacity=500)
    agent_id = await _agent(db, world, float_usd=50)  # five USD 10 tickets
    connections = await available_connections(server_url, 24)

    def sale(n: int) -> object:
        return lambda database: _sell(database, world, agent_id, 100 + n)  # type: ignore[arg-type]

    async def top_up(database: Database) -> Money:
        async with database.transaction() as session:
            return await agents.top_up(
                session,
                agent_id=agent_id,
                organizer_id=world.organizer_id,
                amount=Money(3000, "USD"),
                actor="test",
                reason="second cash drop",
            )

    attempts = [sale(n) for n in range(20)]
    attempts.insert(7, top_up)
    results = await race(database_url, connections, attempts)  # type: ignore[arg-type]
    sold = [r for r in results if isinstance(r, agent_sales.Sale)]
    refused = [r for r in results if isinstance(r, agents.InsufficientFloat)]
    assert len(sold) + len(refused) == 20, [r for r in results if isinstance(r, BaseException)]
    async with db.session() as session:
        agent = await session.get_one(Agent, agent_id)
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.agent_id == agent_id)
        )
        spent = await session.scalar(
            select(func.sum(LedgerEntry.amount_minor)).where(
                LedgerEntry.account == ledger.agent_float_account(agent_id)
            )
        )
    assert agent.float_minor >= 0
    assert 5 <= len(sold) <= 8 and orders == len(sold)
    assert agent.float_minor == 8000 - 1000 * len(sold)
    assert -int(spent or 0) == agent.float_minor  # the ledger and the float agree


async def test_the_float_limit_caps_a_top_up_and_pins_lock_after_three_misses(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    agent_id = await _agent(db, world, float_usd=90, limit_usd=100)
    with pytest.raises(agents.FloatLimit):
        async with db.transaction() as session:
            await agents.top_up(
                session,
                agent_id=agent_id,
                organizer_id=world.organizer_id,
                amount=Money(2000, "USD"),
                actor="test",
                reason="too much",
            )
    with pytest.raises(InvalidInput):
        async with db.transaction() as session:
            await agents.top_up(
                session,
                agent_id=agent_id,
                organizer_id=world.organizer_id,
                amount=Money(100, "ZWG"),
                actor="test",
                reason="wrong currency",
            )
    now = datetime.now(UTC)
    for expected_left in (2, 1):
        async with db.transaction() as session:
            attempt = await agents.try_pin(session, agent_id, "99999", now)
        assert not attempt.ok and attempt.tries_left == expected_left
    async with db.transaction() as session:
        locked = await agents.try_pin(session, agent_id, "99999", now)
    assert locked.locked_until is not None and locked.locked_until > now
    async with db.transaction() as session:
        await agents.set_pin(session, agent_id, "24680")
    async with db.transaction() as session:
        assert not (await agents.try_pin(session, agent_id, "24680", now)).ok  # still locked
    later = now + timedelta(minutes=16)
    async with db.transaction() as session:
        assert (await agents.try_pin(session, agent_id, "24680", later)).ok


async def test_a_tier_rate_beats_the_event_rate_which_beats_the_agents_own(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, price_minor=1000, seat_rows=(10,))
    agent_id = await _agent(db, world, float_usd=500, bps=100)
    async with db.transaction() as session:
        for tier_id, bps in ((None, 300), (world.reserved_tier_id, 1000)):
            await agents.set_rate(
                session,
                agent_id=agent_id,
                organizer_id=world.organizer_id,
                event_id=world.event_id,
                tier_id=tier_id,
                commission_bps=bps,
                actor="test",
            )
    general = await _sell(db, world, agent_id, 60)
    assert isinstance(general, agent_sales.Sale) and general.commission == Money(30, "USD")
    async with db.transaction() as session:
        vip = await agent_sales.sell(
            session,
            agent_id=agent_id,
            event_id=world.event_id,
            tier_id=world.reserved_tier_id or 0,
            quantity=1,
            buyer_phone=phone(8_700_061),
            language="en",
            idempotency_key="vip-sale",
        )
    assert vip.commission == Money(500, "USD")  # 10% of USD 50


async def test_sold_out_is_refused_without_spending(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, price_minor=1000, ga_capacity=2)
    agent_id = await _agent(db, world, float_usd=100)
    with pytest.raises(SoldOut):
        await _sell(db, world, agent_id, 70, quantity=3)
    async with db.session() as session:
        assert (await session.get_one(Agent, agent_id)).float_minor == 10000
