"""What is on sale, and when a tier may be bought."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import make_world, phone, unique_code
from tikiti.core import catalog, holds, setup
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput, SalesClosed
from tikiti.core.models import Event, Tier
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


async def test_events_on_sale_filter_by_text_category_venue_and_date(
    db: Database, keybox: KeyBox
) -> None:
    marker = unique_code("Q")
    world = await make_world(db, keybox, name=f"Jazz {marker}")
    await make_world(db, keybox, name=f"Other {marker}", publish=False)  # a draft never shows
    async with db.session() as session:
        found = await catalog.events_on_sale(session, catalog.EventFilter(text=marker))
        assert [e.id for e in found] == [world.event_id]
        assert (
            await catalog.events_on_sale(
                session, catalog.EventFilter(text=marker, category="football")
            )
            == []
        )
        soon = datetime.now(UTC) + timedelta(days=1)
        assert (
            await catalog.events_on_sale(
                session, catalog.EventFilter(text=marker, starts_until=soon)
            )
            == []
        )
        by_org = await catalog.events_on_sale(
            session, catalog.EventFilter(organizer_id=world.organizer_id)
        )
        assert [e.id for e in by_org] == [world.event_id]
        # LIKE wildcards typed by a person match themselves, not everything.
        assert await catalog.events_on_sale(session, catalog.EventFilter(text="%")) == []
        tiers = await catalog.tiers(session, world.event_id)
    assert tiers[0].prices["USD"] == world.price and tiers[0].available == 100


async def test_a_tier_outside_its_sales_window_cannot_be_held(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    now = datetime.now(UTC)
    ended = setup.TierSpec("EARLY", "Early bird", [Money(500, "USD")], 10, sales_end=now)
    coming = setup.TierSpec(
        "LATE", "Late", [Money(900, "USD")], 10, sales_start=now + timedelta(days=1)
    )
    async with db.transaction() as session:
        early = await setup.add_tier(session, world.event_id, ended)
        later = await setup.add_tier(session, world.event_id, coming)
    for tier_id, message in ((early.id, "ended"), (later.id, "not on sale yet")):
        with pytest.raises(SalesClosed, match=message):
            async with db.transaction() as session:
                await holds.place_hold(
                    session, event_id=world.event_id, items=[holds.Item(tier_id, 1)],
                    buyer_phone=phone(1), channel="ussd", language="en", currency="USD",
                )  # fmt: skip
    async with db.session() as session:
        assert (await session.get_one(Tier, early.id)).held == 0


async def test_two_events_cannot_share_a_code(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    async with db.transaction() as session:
        event = await session.get_one(Event, world.event_id)
        spec = setup.EventSpec(
            organizer_id=world.organizer_id, code=world.event_code.lower(), name="Again",
            category="music", starts_at=event.starts_at, ends_at=event.ends_at,
            timezone="Africa/Harare", country="ZW",
        )  # fmt: skip
        with pytest.raises(InvalidInput, match="is taken"):
            await setup.create_event(session, keybox, spec, actor="test")
