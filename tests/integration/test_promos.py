"""Promo codes: the discount, its dates and scope, and limits that hold under a crowd."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import make_world, phone
from tests.integration.concurrency import available_connections, race
from tests.integration.sales import add_promo, add_tier, buyer, counts
from tests.integration.test_settlement import settle
from tikiti.core import free_orders, holds, orders, promos, reports
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput, SoldOut
from tikiti.core.models import Order, OrderLine, OrderStatus, PromoCode, PromoRedemption
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


async def used(db: Database, promo_id: int) -> int:
    async with db.session() as session:
        return (await session.get_one(PromoCode, promo_id)).used


async def live_redemptions(db: Database, promo_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(func.count()).where(
                PromoRedemption.promo_code_id == promo_id, PromoRedemption.released_at.is_(None)
            )
        )
        return int(found or 0)


async def request(db: Database, order_id: int) -> str:
    async with db.transaction() as session:
        payment = await orders.request_payment(
            session,
            order_id=order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone="+263771000001",
            idempotency_key=f"pay:{order_id}",
        )
        await orders.attach_reference(session, payment.id, f"SBX-{order_id}")
    return f"SBX-{order_id}"


async def test_100_concurrent_uses_of_a_10_use_code_discount_exactly_10_orders(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox, ga_capacity=500)
    promo_id, code = await add_promo(db, world, promos.Terms(percent_bps=1000, max_uses=10))
    connections = await available_connections(server_url, 100)
    results = await race(
        database_url, connections, [buyer(world, n, promo_code=code) for n in range(100)]
    )
    placed = [r for r in results if isinstance(r, holds.Placed)]
    refused = [r for r in results if isinstance(r, promos.PromoUsedUp)]
    assert len(placed) == 10
    assert len(refused) == 90, [r for r in results if not isinstance(r, holds.Placed)]
    assert all(p.discount == Money(100, "USD") and p.total == Money(900, "USD") for p in placed)
    assert await used(db, promo_id) == 10 == await live_redemptions(db, promo_id)
    assert (await counts(db, world.ga_tier_id)).held == 10  # refused buyers hold nothing
    async with db.session() as session:
        discounted = await session.scalar(
            select(func.count()).where(Order.promo_code_id == promo_id, Order.discount_minor > 0)
        )
    assert discounted == 10


async def test_one_buyer_racing_themself_gets_the_per_buyer_limit_once(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    world = await make_world(db, keybox)
    promo_id, code = await add_promo(db, world, promos.Terms(percent_bps=500, per_buyer_limit=1))
    connections = await available_connections(server_url, 20)
    same = phone(42)
    results = await race(
        database_url,
        connections,
        [buyer(world, n, promo_code=code, buyer_phone=same) for n in range(20)],
    )
    assert len([r for r in results if isinstance(r, holds.Placed)]) == 1
    limited = [r for r in results if isinstance(r, promos.PromoBuyerLimit)]
    assert len(limited) == 19, results
    assert await used(db, promo_id) == 1
    other = await buyer(world, 43, promo_code=code)(db)  # another phone still may
    assert other.discount == Money(50, "USD")


async def test_a_per_buyer_limit_of_two_allows_two_orders(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    _, code = await add_promo(db, world, promos.Terms(percent_bps=500, per_buyer_limit=2))
    await buyer(world, 1, promo_code=code)(db)
    await buyer(world, 1, promo_code=code)(db)
    with pytest.raises(promos.PromoBuyerLimit):
        await buyer(world, 1, promo_code=code)(db)
    async with db.session() as session:
        with pytest.raises(promos.PromoBuyerLimit):
            await promos.quote(
                session,
                event_id=world.event_id,
                code=code,
                items=[holds.Item(world.ga_tier_id, 1)],
                currency="USD",
                buyer_phone=phone(1),
            )


async def test_expiry_and_cancel_give_a_use_back(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    promo_id, code = await add_promo(db, world, promos.Terms(percent_bps=1000, max_uses=1))
    first = await buyer(world, 1, promo_code=code)(db)
    with pytest.raises(promos.PromoUsedUp):
        await buyer(world, 2, promo_code=code)(db)
    later = datetime.now(UTC) + timedelta(minutes=11)
    async with db.transaction() as session:
        assert first.order_id in await orders.expire_due(session, now=later)
    assert await used(db, promo_id) == 0
    second = await buyer(world, 2, promo_code=code)(db)
    assert await used(db, promo_id) == 1
    async with db.transaction() as session:
        await orders.cancel(session, second.order_id, actor="test", reason="changed mind")
    assert await used(db, promo_id) == 0 == await live_redemptions(db, promo_id)


async def test_a_late_payment_keeps_its_discount_only_if_a_use_is_left(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    later = datetime.now(UTC) + timedelta(minutes=11)
    promo_id, code = await add_promo(db, world, promos.Terms(percent_bps=1000, max_uses=1))
    kept = await buyer(world, 1, promo_code=code)(db)
    kept_reference = await request(db, kept.order_id)
    async with db.transaction() as session:
        await orders.expire_due(session, now=later)
    assert await used(db, promo_id) == 0
    settled = await settle(db, kept_reference, kept.total.minor, now=later)
    assert settled.outcome.value == "settled_late"
    assert await used(db, promo_id) == 1  # the use was taken again

    other_id, other = await add_promo(db, world, promos.Terms(percent_bps=1000, max_uses=1))
    lost = await buyer(world, 2, promo_code=other)(db)
    lost_reference = await request(db, lost.order_id)
    async with db.transaction() as session:
        await orders.expire_due(session, now=later)
    await buyer(world, 3, promo_code=other)(db)  # the use given back goes to someone else
    refused = await settle(db, lost_reference, lost.total.minor, now=later)
    assert refused.outcome.value == "refund_due"
    assert await used(db, other_id) == 1
    async with db.session() as session:
        order = await session.get_one(Order, lost.order_id)
    assert order.status == OrderStatus.REFUND_DUE


async def test_percent_rounds_for_the_buyer_and_a_tier_code_discounts_only_that_tier(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, price_minor=999)
    vip = await add_tier(db, world, price_minor=2500)
    _, everything = await add_promo(db, world, promos.Terms(percent_bps=1000))
    placed = await buyer(world, 1, quantity=3, promo_code=everything)(db)
    assert placed.discount == Money(300, "USD")  # 10% of 29.97 is 2.997: 3.00 off
    assert placed.total == Money(2697, "USD")
    _, vip_only = await add_promo(db, world, promos.Terms(percent_bps=2000, tier_id=vip))
    with pytest.raises(promos.PromoNotValid):
        await buyer(world, 2, promo_code=vip_only)(db)
    async with db.transaction() as session:
        both = await holds.place_hold(
            session,
            event_id=world.event_id,
            items=[holds.Item(world.ga_tier_id, 2), holds.Item(vip, 1)],
            buyer_phone=phone(3),
            channel="sms",
            language="en",
            currency="USD",
            promo_code=vip_only,
        )
        lines = dict(
            (
                await session.execute(
                    select(OrderLine.tier_id, OrderLine.discount_minor).where(
                        OrderLine.order_id == both.order_id
                    )
                )
            ).all()
        )
    assert lines == {world.ga_tier_id: 0, vip: 500}
    assert both.total == Money(2 * 999 + 2500 - 500, "USD")


async def test_a_fixed_amount_never_takes_an_order_below_zero(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, price_minor=1000)
    _, code = await add_promo(db, world, promos.Terms(amount=Money(2500, "USD")))
    placed = await buyer(world, 1, quantity=2, promo_code=code)(db)
    assert (placed.total, placed.discount) == (Money(0, "USD"), Money(2000, "USD"))
    async with db.transaction() as session:
        issued = await free_orders.fulfil(session, placed.order_id, actor="ussd")
    assert len(issued) == 2
    assert (await counts(db, world.ga_tier_id)).sold == 2
    async with db.session() as session:
        order = await session.get_one(Order, placed.order_id)
        assert order.status == OrderStatus.FULFILLED
        with pytest.raises(promos.PromoNotValid, match="payments in USD"):
            await holds.place_hold(
                session,
                event_id=world.event_id,
                items=[holds.Item(world.ga_tier_id, 1)],
                buyer_phone=phone(2),
                channel="sms",
                language="en",
                currency="ZWG",
                promo_code=code,
            )


async def test_dates_switch_and_unknown_codes_are_refused_and_hold_nothing(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=10)
    now = datetime.now(UTC)
    soon = promos.Terms(percent_bps=1000, starts_at=now + timedelta(days=1))
    gone = promos.Terms(percent_bps=1000, ends_at=now - timedelta(minutes=1))
    _, early = await add_promo(db, world, soon)
    _, late = await add_promo(db, world, gone)
    off_id, off = await add_promo(db, world, promos.Terms(percent_bps=1000))
    async with db.transaction() as session:
        (await session.get_one(PromoCode, off_id)).active = False
    with pytest.raises(promos.PromoNotValid, match="not valid yet"):
        await buyer(world, 1, promo_code=early)(db)
    with pytest.raises(promos.PromoNotValid, match="expired"):
        await buyer(world, 1, promo_code=late)(db)
    for unknown in (off, "NOSUCHCODE"):
        with pytest.raises(promos.PromoNotFound):
            await buyer(world, 1, promo_code=unknown)(db)
    assert await counts(db, world.ga_tier_id) == (10, 0, 0, 0)
    blank = await buyer(world, 1, promo_code="  ")(db)  # a skipped step is no code
    assert blank.discount is None


async def test_a_refused_code_after_a_sold_out_tier_keeps_nothing(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=1)
    promo_id, code = await add_promo(db, world, promos.Terms(percent_bps=1000, max_uses=5))
    await buyer(world, 1)(db)
    with pytest.raises(SoldOut):
        await buyer(world, 2, promo_code=code)(db)
    assert await used(db, promo_id) == 0  # the use went back with the rolled-back hold


async def test_quote_shows_the_price_before_the_hold(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, price_minor=1500)
    _, code = await add_promo(db, world, promos.Terms(amount=Money(200, "USD")))
    async with db.session() as session:
        quote = await promos.quote(
            session,
            event_id=world.event_id,
            code=code.lower(),
            items=[holds.Item(world.ga_tier_id, 2)],
            currency="USD",
        )
    assert (quote.subtotal, quote.discount, quote.total) == (
        Money(3000, "USD"),
        Money(200, "USD"),
        Money(2800, "USD"),
    )


async def test_sales_reports_count_what_was_paid_after_discounts(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, price_minor=1000)
    _, code = await add_promo(db, world, promos.Terms(percent_bps=2500))
    placed = await buyer(world, 1, quantity=2, promo_code=code)(db)
    reference = await request(db, placed.order_id)
    await settle(db, reference, placed.total.minor)
    async with db.session() as session:
        dashboard = await reports.dashboard(session, world.organizer_id)
    assert dashboard.total.revenue == (Money(1500, "USD"),)


async def test_promo_terms_are_checked(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    bad_terms = [
        promos.Terms(),
        promos.Terms(percent_bps=1000, amount=Money(100, "USD")),
        promos.Terms(percent_bps=0),
        promos.Terms(percent_bps=10_001),
        promos.Terms(amount=Money(0, "USD")),
        promos.Terms(percent_bps=1000, max_uses=0),
        promos.Terms(percent_bps=1000, per_buyer_limit=0),
    ]
    for terms in bad_terms:
        with pytest.raises(InvalidInput):
            await add_promo(db, world, terms)
    _, code = await add_promo(db, world, promos.Terms(percent_bps=1000))
    with pytest.raises(InvalidInput, match="already exists"):
        async with db.transaction() as session:
            await promos.add(
                session,
                event_id=world.event_id,
                code=code,
                terms=promos.Terms(percent_bps=500),
                actor="t",
            )
