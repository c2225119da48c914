"""Creating organizers, venues with seat maps, events with their signing keys, and tiers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit
from tikiti.core.errors import InvalidInput
from tikiti.core.models import (
    Event,
    EventStatus,
    Organizer,
    Seat,
    Section,
    SectionKind,
    Tier,
    TierPrice,
    Venue,
)
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox, generate_keypair

EVENT_CODE = re.compile(r"^[A-Z0-9]{2,16}$")
STREAM_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@dataclass(frozen=True)
class SeatRow:
    label: str
    seats: int


@dataclass(frozen=True)
class TierSpec:
    code: str
    name: str
    prices: Sequence[Money]
    capacity: int | None = None  # a reserved tier's capacity is its section's seat count
    section_id: int | None = None
    sales_start: datetime | None = None
    sales_end: datetime | None = None


@dataclass(frozen=True)
class EventSpec:
    organizer_id: int
    code: str
    name: str
    category: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    country: str
    venue_id: int | None = None
    doors_open_at: datetime | None = None
    description: str = ""
    per_order_limit: int = 10
    hold_minutes: int = 10
    payment_methods: Sequence[str] = field(default_factory=lambda: ["ecocash", "onemoney"])
    stream_url: str | None = None
    watch_devices: int = 2
    watch_until: datetime | None = None


def _check_stream(spec: EventSpec) -> str | None:
    """A pay-per-view event names an http(s) stream; the link a buyer gets redirects to it."""
    if spec.stream_url is None:
        return None
    url = spec.stream_url.strip()
    if not STREAM_URL.match(url) or len(url) > 2000:
        raise InvalidInput("a stream URL starts with https:// (or http://)", field="stream_url")
    if not 1 <= spec.watch_devices <= 20:
        raise InvalidInput("devices per ticket is 1 to 20", field="watch_devices")
    if spec.watch_until is not None and spec.watch_until < spec.ends_at:
        raise InvalidInput("watching cannot close before the event ends", field="watch_until")
    return url


async def create_organizer(
    session: AsyncSession, *, name: str, slug: str, country: str, timezone: str, currency: str
) -> Organizer:
    organizer = Organizer(
        name=name, slug=slug, country=country, timezone=timezone, default_currency=currency
    )
    session.add(organizer)
    await session.flush()
    return organizer


async def create_venue(
    session: AsyncSession, *, organizer_id: int, name: str, city: str, country: str, timezone: str
) -> Venue:
    venue = Venue(
        organizer_id=organizer_id, name=name, city=city, country=country, timezone=timezone
    )
    session.add(venue)
    await session.flush()
    return venue


async def add_section(
    session: AsyncSession,
    *,
    venue_id: int,
    name: str,
    capacity: int | None = None,
    rows: Sequence[SeatRow] = (),
) -> Section:
    """A general section has a capacity; a reserved one has numbered rows, best row first."""
    if rows:
        section = Section(
            venue_id=venue_id,
            name=name,
            kind=SectionKind.RESERVED,
            capacity=sum(r.seats for r in rows),
        )
    elif capacity is not None and capacity > 0:
        section = Section(venue_id=venue_id, name=name, kind=SectionKind.GENERAL, capacity=capacity)
    else:
        raise InvalidInput("a section needs a capacity or seat rows", field="capacity")
    session.add(section)
    await session.flush()
    seats = [
        {"section_id": section.id, "row_label": row.label, "row_rank": rank, "number": n}
        for rank, row in enumerate(rows)
        for n in range(1, row.seats + 1)
    ]
    if seats:
        await session.execute(insert(Seat), seats)
    return section


async def create_event(
    session: AsyncSession, keybox: KeyBox, spec: EventSpec, *, actor: str
) -> Event:
    """A new draft event with its own Ed25519 key pair; the private half is sealed at rest."""
    code = spec.code.strip().upper()
    if not EVENT_CODE.match(code):
        raise InvalidInput("an event code is 2 to 16 letters or digits", field="code")
    if spec.ends_at <= spec.starts_at:
        raise InvalidInput("an event must end after it starts", field="ends_at")
    stream_url = _check_stream(spec)
    private, public = generate_keypair()
    event = Event(
        organizer_id=spec.organizer_id,
        venue_id=spec.venue_id,
        name=spec.name,
        code=code,
        category=spec.category,
        description=spec.description,
        status=EventStatus.DRAFT,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        doors_open_at=spec.doors_open_at,
        timezone=spec.timezone,
        country=spec.country,
        per_order_limit=spec.per_order_limit,
        hold_minutes=spec.hold_minutes,
        payment_methods=list(spec.payment_methods),
        stream_url=stream_url,
        watch_devices=spec.watch_devices,
        watch_until=spec.watch_until,
        public_key=public,
        private_key_sealed=b"",
    )
    try:
        async with session.begin_nested():  # two organizers saving one code at once: one wins
            session.add(event)
            await session.flush()
    except IntegrityError as error:
        raise InvalidInput(f"the code {code} is taken: choose another", field="code") from error
    event.private_key_sealed = keybox.seal(private, f"event:{event.id}".encode())
    await audit.record(
        session,
        organizer_id=spec.organizer_id,
        actor=actor,
        action="event.created",
        entity="event",
        entity_id=event.id,
        data={"code": code},
    )
    return event


async def add_tier(session: AsyncSession, event_id: int, spec: TierSpec) -> Tier:
    capacity = spec.capacity
    if spec.section_id is not None:
        section = await session.get_one(Section, spec.section_id)
        if section.kind == SectionKind.RESERVED:
            capacity = section.capacity
    if capacity is None or capacity < 0:
        raise InvalidInput("a tier needs a capacity", field="capacity")
    if not spec.prices:
        raise InvalidInput("a tier needs at least one price", field="prices")
    tier = Tier(
        event_id=event_id,
        section_id=spec.section_id,
        code=spec.code.upper(),
        name=spec.name,
        capacity=capacity,
        sales_start=spec.sales_start,
        sales_end=spec.sales_end,
    )
    session.add(tier)
    await session.flush()
    await session.execute(
        insert(TierPrice),
        [
            {"tier_id": tier.id, "currency": p.currency, "amount_minor": p.minor}
            for p in spec.prices
        ],
    )
    return tier


async def publish(session: AsyncSession, event: Event, *, actor: str) -> None:
    event.status = EventStatus.ON_SALE
    event.published_at = datetime.now(UTC)
    await audit.record(
        session,
        organizer_id=event.organizer_id,
        actor=actor,
        action="event.published",
        entity="event",
        entity_id=event.id,
    )
