"""The dashboard's figures: paid orders only, per currency, per local day, one organizer only."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from tests.factories import World, make_world, phone
from tests.integration.test_settlement import settle
from tikiti.core import checkin, holds, orders, reports
from tikiti.core.db import Database
from tikiti.core.models import Order
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


async def sell(
    db: Database,
    world: World,
    quantity: int,
    *,
    currency: str = "USD",
    channel: str = "sms",
    pay: bool = True,
) -> tuple[int, list[str]]:
    """An order placed through core, paid when asked; returns its id and ticket codes."""
    buyer = phone(secrets.randbelow(10_000_000))
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session,
            event_id=world.event_id,
            items=[holds.Item(world.ga_tier_id, quantity)],
            buyer_phone=buyer,
            channel=channel,
            language="en",
            currency=currency,
        )
        payment = await orders.request_payment(
            session,
            order_id=placed.order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone=buyer,
            idempotency_key=f"pay:{placed.order_id}",
        )
        await orders.attach_reference(session, payment.id, f"SBX-{placed.order_id}")
    if not pay:
        return placed.order_id, []
    done = await settle(db, f"SBX-{placed.order_id}", placed.total.minor, currency=currency)
    return placed.order_id, [t.code for t in done.tickets]


async def placed_at(db: Database, order_id: int, at: datetime) -> None:
    async with db.transaction() as session:
        await session.execute(update(Order).where(Order.id == order_id).values(created_at=at))


async def test_the_dashboard_counts_paid_orders_by_currency_channel_tier_and_day(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, price_minor=1000)  # USD 10.00, ZWG 300.00
    other = await make_world(db, keybox)
    # Harare is UTC+2: 22:30 UTC on the 9th is already the 10th there.
    now = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
    first, codes = await sell(db, world, 2)
    await placed_at(db, first, datetime(2025, 6, 9, 22, 30, tzinfo=UTC))
    second, _ = await sell(db, world, 1, currency="ZWG", channel="ussd")
    await placed_at(db, second, now - timedelta(hours=1))
    older, _ = await sell(db, world, 3, channel="ussd")
    await placed_at(db, older, datetime(2025, 6, 9, 21, 30, tzinfo=UTC))  # 23:30 on the 9th
    ancient, _ = await sell(db, world, 1)
    await placed_at(db, ancient, datetime(2025, 1, 1, 12, tzinfo=UTC))
    refunded, _ = await sell(db, world, 4)
    async with db.transaction() as session:
        await orders.refund(session, refunded, actor="test", reason="test")
    await sell(db, world, 5, pay=False)  # still awaiting payment
    await sell(db, other, 7)  # another organizer's sale
    async with db.transaction() as session:
        for code, gate in zip(codes, ("North", "South"), strict=True):
            await checkin.check_in(session, event_id=world.event_id, code=code, gate=gate)

    async with db.session() as session:
        figures = await reports.dashboard(session, world.organizer_id, now=now)

    assert figures.today == reports.Totals(2, 3, (Money(2000, "USD"), Money(30000, "ZWG")))
    assert figures.total == reports.Totals(4, 7, (Money(6000, "USD"), Money(30000, "ZWG")))
    assert [(c.channel, c.orders, c.tickets) for c in figures.channels] == [
        ("ussd", 2, 4),
        ("sms", 2, 3),
    ]
    assert figures.channels[0].revenue == (Money(3000, "USD"), Money(30000, "ZWG"))
    [tier] = figures.tiers
    assert (tier.tier_name, tier.capacity, tier.tickets) == ("General", 100, 7)
    assert [(g.gate, g.admitted) for g in figures.gates] == [("North", 1), ("South", 1)]
    assert len(figures.days) == 14
    assert figures.days[-1].day == date(2025, 6, 10) and figures.days[-1].tickets == 3
    assert figures.days[-2].day == date(2025, 6, 9) and figures.days[-2].tickets == 3
    assert figures.days[-2].revenue == (Money(3000, "USD"),)
    assert sum(d.tickets for d in figures.days) == 6  # January's sale is older than 14 days


async def test_an_organizer_without_sales_sees_zeros(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    async with db.session() as session:
        figures = await reports.dashboard(session, world.organizer_id)
    assert figures.total == reports.Totals(0, 0, ())
    assert [t.tickets for t in figures.tiers] == [0]
    assert figures.channels == () and figures.gates == ()
    assert all(d.tickets == 0 for d in figures.days)
