"""A realistic demo organizer in Harare: a stadium, a hall, three upcoming events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import setup, users
from tikiti.core.models import Organizer, Role
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox

SLUG = "harare-live"
ADMIN_EMAIL = "admin@harare-live.example"
HARARE = ZoneInfo("Africa/Harare")
ZWG_PER_USD = 27  # a round demo rate; organizers set each currency's price themselves


@dataclass(frozen=True)
class DemoSeed:
    organizer_id: int
    admin_email: str
    admin_password: str
    event_codes: tuple[str, ...]


def _prices(usd: int) -> list[Money]:
    return [Money(usd * 100, "USD"), Money(usd * 100 * ZWG_PER_USD, "ZWG")]


def _local(days_ahead: int, at: time, today: datetime) -> datetime:
    day = (today.astimezone(HARARE) + timedelta(days=days_ahead)).date()
    return datetime.combine(day, at, tzinfo=HARARE).astimezone(UTC)


async def _stadium(session: AsyncSession, organizer_id: int) -> dict[str, int]:
    venue = await setup.create_venue(
        session,
        organizer_id=organizer_id,
        name="National Sports Stadium",
        city="Harare",
        country="ZW",
        timezone="Africa/Harare",
    )
    vip = await setup.add_section(
        session,
        venue_id=venue.id,
        name="VIP",
        rows=[setup.SeatRow(label, 50) for label in "ABCDEFGHJK"],
    )
    covered = await setup.add_section(
        session, venue_id=venue.id, name="Covered Stand", capacity=20_000
    )
    open_ = await setup.add_section(session, venue_id=venue.id, name="Open Stand", capacity=39_500)
    return {"venue": venue.id, "vip": vip.id, "covered": covered.id, "open": open_.id}


async def _hall(session: AsyncSession, organizer_id: int) -> dict[str, int]:
    venue = await setup.create_venue(
        session,
        organizer_id=organizer_id,
        name="Harare Gardens Hall",
        city="Harare",
        country="ZW",
        timezone="Africa/Harare",
    )
    floor = await setup.add_section(session, venue_id=venue.id, name="Floor", capacity=2_000)
    return {"venue": venue.id, "floor": floor.id}


async def _event(
    session: AsyncSession,
    keybox: KeyBox,
    spec: setup.EventSpec,
    tiers: list[setup.TierSpec],
) -> str:
    event = await setup.create_event(session, keybox, spec, actor="seed")
    for tier in tiers:
        await setup.add_tier(session, event.id, tier)
    await setup.publish(session, event, actor="seed")
    return event.code


async def seed(
    session: AsyncSession, keybox: KeyBox, *, admin_password: str, now: datetime | None = None
) -> DemoSeed | None:
    """Create the demo organizer once; None when it already exists."""
    if await session.scalar(select(Organizer.id).where(Organizer.slug == SLUG)):
        return None
    now = now or datetime.now(UTC)
    org = await setup.create_organizer(
        session,
        name="Harare Live Promotions",
        slug=SLUG,
        country="ZW",
        timezone="Africa/Harare",
        currency="USD",
    )
    stadium = await _stadium(session, org.id)
    hall = await _hall(session, org.id)
    festival_start = _local(21, time(14, 0), now)
    match_start = _local(10, time(15, 0), now)
    summit_start = _local(35, time(8, 30), now)
    codes = (
        await _event(
            session,
            keybox,
            setup.EventSpec(
                code="ZIMFEST",
                name="Harare Music Festival",
                category="music",
                venue_id=stadium["venue"],
                starts_at=festival_start,
                ends_at=festival_start + timedelta(hours=10),
                doors_open_at=festival_start - timedelta(hours=2),
                per_order_limit=6,
                organizer_id=org.id,
                timezone="Africa/Harare",
                country="ZW",
            ),
            [
                setup.TierSpec("VIP", "VIP", _prices(50), section_id=stadium["vip"]),
                setup.TierSpec("COVERED", "Covered Stand", _prices(20), 20_000, stadium["covered"]),
                setup.TierSpec("GENERAL", "General", _prices(10), 39_500, stadium["open"]),
            ],
        ),
        await _event(
            session,
            keybox,
            setup.EventSpec(
                code="DERBY",
                name="Dynamos v Highlanders",
                category="football",
                venue_id=stadium["venue"],
                starts_at=match_start,
                ends_at=match_start + timedelta(hours=2),
                doors_open_at=match_start - timedelta(hours=3),
                per_order_limit=4,
                organizer_id=org.id,
                timezone="Africa/Harare",
                country="ZW",
            ),
            [
                setup.TierSpec("VIP", "VIP", _prices(15), section_id=stadium["vip"]),
                setup.TierSpec("COVERED", "Covered Stand", _prices(5), 20_000, stadium["covered"]),
                setup.TierSpec("OPEN", "Open Stand", _prices(3), 39_500, stadium["open"]),
            ],
        ),
        await _event(
            session,
            keybox,
            setup.EventSpec(
                code="TECHSUM",
                name="Zimbabwe Tech Summit",
                category="conference",
                venue_id=hall["venue"],
                starts_at=summit_start,
                ends_at=summit_start + timedelta(hours=9),
                doors_open_at=summit_start - timedelta(minutes=45),
                per_order_limit=5,
                organizer_id=org.id,
                timezone="Africa/Harare",
                country="ZW",
            ),
            [
                setup.TierSpec("DELEGATE", "Delegate", _prices(30), 1_700, hall["floor"]),
                setup.TierSpec("STUDENT", "Student", _prices(10), 300, hall["floor"]),
            ],
        ),
    )
    await users.add_user(
        session,
        organizer_id=org.id,
        email=ADMIN_EMAIL,
        name="Demo Owner",
        role=Role.OWNER,
        password=admin_password,
        actor="seed",
    )
    return DemoSeed(org.id, ADMIN_EMAIL, admin_password, codes)
