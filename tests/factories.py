"""Builders for test data: each call makes a fresh organizer and event with unique codes."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tikiti.core import setup
from tikiti.core.db import Database
from tikiti.core.models import Event
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox


@dataclass(frozen=True)
class World:
    organizer_id: int
    event_id: int
    event_code: str
    ga_tier_id: int
    reserved_tier_id: int | None
    price: Money


def unique_code(prefix: str = "T") -> str:
    return (prefix + secrets.token_hex(5)).upper()[:16]


def phone(n: int) -> str:
    """Distinct valid Zimbabwean mobile numbers for test buyers."""
    return f"+26377{n % 10_000_000:07d}"


async def make_world(
    db: Database,
    keybox: KeyBox,
    *,
    ga_capacity: int = 100,
    seat_rows: Sequence[int] = (),
    hold_minutes: int = 10,
    per_order_limit: int = 10,
    price_minor: int = 1000,
    publish: bool = True,
    extra_prices: Sequence[Money] = (),
    payment_methods: Sequence[str] = ("ecocash", "onemoney"),
    name: str = "Test Festival",
    starts_in: timedelta = timedelta(days=30),
    stream_url: str | None = None,
    watch_devices: int = 2,
) -> World:
    """An on-sale event with a general tier and, given seat_rows, a reserved tier."""
    starts = datetime.now(UTC) + starts_in
    async with db.transaction() as session:
        organizer = await setup.create_organizer(
            session,
            name="Test Promotions",
            slug=unique_code("org").lower(),
            country="ZW",
            timezone="Africa/Harare",
            currency="USD",
        )
        venue = await setup.create_venue(
            session,
            organizer_id=organizer.id,
            name="Test Arena",
            city="Harare",
            country="ZW",
            timezone="Africa/Harare",
        )
        event: Event = await setup.create_event(
            session,
            keybox,
            setup.EventSpec(
                organizer_id=organizer.id,
                venue_id=None if stream_url else venue.id,
                code=unique_code(),
                name=name,
                category="music",
                starts_at=starts,
                ends_at=starts + timedelta(hours=6),
                timezone="Africa/Harare",
                country="ZW",
                per_order_limit=per_order_limit,
                hold_minutes=hold_minutes,
                payment_methods=payment_methods,
                stream_url=stream_url,
                watch_devices=watch_devices,
            ),
            actor="test",
        )
        price = Money(price_minor, "USD")
        ga = await setup.add_tier(
            session,
            event.id,
            setup.TierSpec(
                code="GA",
                name="General",
                prices=[price, Money(price_minor * 30, "ZWG"), *extra_prices],
                capacity=ga_capacity,
            ),
        )
        reserved_id = None
        if seat_rows:
            section = await setup.add_section(
                session,
                venue_id=venue.id,
                name="VIP",
                rows=[setup.SeatRow(chr(ord("A") + i), n) for i, n in enumerate(seat_rows)],
            )
            reserved = await setup.add_tier(
                session,
                event.id,
                setup.TierSpec(code="VIP", name="VIP", prices=[price * 5], section_id=section.id),
            )
            reserved_id = reserved.id
        if publish:
            await setup.publish(session, event, actor="test")
        return World(organizer.id, event.id, event.code, ga.id, reserved_id, price)
