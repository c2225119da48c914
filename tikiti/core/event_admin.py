"""Events as an organizer manages them: drafts typed into a form, tiers, publishing, closing.

Every function takes the organizer's id and refuses (NotFound) what belongs to someone else.
Input arrives as the text a person typed; it is read and checked here, so any front end
(the web admin, a script) gets the same rules and the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, setup
from tikiti.core.db import Reader
from tikiti.core.errors import InvalidInput, InvalidState, NotFound
from tikiti.core.models import Event, EventStatus, Organizer, Tier, TierPrice, Venue
from tikiti.core.money import Money, MoneyError
from tikiti.core.signing import KeyBox

# Every method some provider can take; an event offers the ones its organizer has accounts for.
PAYMENT_METHODS: tuple[str, ...] = (
    "ecocash",
    "onemoney",
    "mpesa",
    "mtn",
    "airtel",
    "vodafone",
    "tigo",
    "sandbox",
)
TIER_CODE = re.compile(r"^[A-Z0-9]{1,16}$")
LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")
MAX_CAPACITY = 1_000_000
MAX_CUTOFF_MINUTES = 60 * 24 * 30


@dataclass(frozen=True, slots=True)
class DraftInput:
    """A new event as typed into the form; times are local to the organizer."""

    name: str
    code: str
    category: str
    venue_id: str
    stream_url: str
    starts: str
    ends: str
    doors: str
    per_order_limit: str
    hold_minutes: str
    payment_methods: Sequence[str]
    transfers_allowed: bool
    max_transfers: str
    transfer_cutoff_minutes: str


@dataclass(frozen=True, slots=True)
class TierInput:
    name: str
    code: str
    capacity: str
    price: str


@dataclass(frozen=True, slots=True)
class OrganizerFacts:
    timezone: str
    country: str
    currency: str


@dataclass(frozen=True, slots=True)
class VenueChoice:
    id: int
    name: str
    city: str


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    name: str
    code: str
    status: EventStatus
    starts_at: datetime
    sold: int
    capacity: int


@dataclass(frozen=True, slots=True)
class TierRow:
    id: int
    name: str
    code: str
    capacity: int
    sold: int
    held: int
    prices: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class EventDetail:
    event: Event
    venue: str | None
    tiers: tuple[TierRow, ...]

    @property
    def sold(self) -> int:
        return sum(t.sold for t in self.tiers)

    @property
    def capacity(self) -> int:
        return sum(t.capacity for t in self.tiers)


def _text(value: str, field: str, label: str, *, longest: int) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or not cleaned.isprintable():
        raise InvalidInput(f"{label} is needed", field=field)
    if len(cleaned) > longest:
        raise InvalidInput(f"{label} is at most {longest} characters", field=field)
    return cleaned


def whole_number(value: str, field: str, label: str, lowest: int, highest: int) -> int:
    cleaned = value.strip()
    if not re.fullmatch(r"[0-9]{1,9}", cleaned) or not lowest <= int(cleaned) <= highest:
        raise InvalidInput(f"{label} is a whole number from {lowest} to {highest}", field=field)
    return int(cleaned)


def local_time(value: str, zone: str, field: str, label: str) -> datetime:
    """A date and time typed in the organizer's zone (an HTML datetime-local), as UTC."""
    cleaned = value.strip()
    try:
        if not LOCAL_TIME.match(cleaned):
            raise ValueError(cleaned)
        naive = datetime.fromisoformat(cleaned.replace(" ", "T"))
    except ValueError:
        raise InvalidInput(f"{label}: give a date and time", field=field) from None
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def organizer_facts(reader: Reader, organizer_id: int) -> OrganizerFacts:
    row = (
        await reader.execute(
            select(Organizer.timezone, Organizer.country, Organizer.default_currency).where(
                Organizer.id == organizer_id
            )
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no such organizer")
    return OrganizerFacts(*row)


async def venues(reader: Reader, organizer_id: int) -> list[VenueChoice]:
    rows = await reader.execute(
        select(Venue.id, Venue.name, Venue.city)
        .where(Venue.organizer_id == organizer_id)
        .order_by(Venue.name, Venue.id)
    )
    return [VenueChoice(*row) for row in rows.all()]


async def events(reader: Reader, organizer_id: int) -> list[EventRow]:
    """The organizer's events, soonest first, with tickets sold against capacity."""
    query = (
        select(
            Event.id,
            Event.name,
            Event.code,
            Event.status,
            Event.starts_at,
            func.coalesce(func.sum(Tier.sold), 0),
            func.coalesce(func.sum(Tier.capacity), 0),
        )
        .outerjoin(Tier, (Tier.event_id == Event.id) & Tier.active)
        .where(Event.organizer_id == organizer_id)
        .group_by(Event.id)
        .order_by(Event.starts_at.desc(), Event.id.desc())
    )
    return [EventRow(*row) for row in (await reader.execute(query)).all()]


async def _own_event(
    session: AsyncSession, organizer_id: int, event_id: int, *, lock: bool = False
) -> Event:
    query = select(Event).where(Event.id == event_id, Event.organizer_id == organizer_id)
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound("no such event", event_id=event_id)
    return found


async def detail(session: AsyncSession, organizer_id: int, event_id: int) -> EventDetail:
    event = await _own_event(session, organizer_id, event_id)
    venue = await session.get(Venue, event.venue_id) if event.venue_id else None
    tiers = (
        await session.scalars(
            select(Tier).where(Tier.event_id == event.id).order_by(Tier.sort_order, Tier.id)
        )
    ).all()
    prices: dict[int, list[Money]] = {}
    if tiers:
        rows = await session.execute(
            select(TierPrice.tier_id, TierPrice.currency, TierPrice.amount_minor)
            .where(TierPrice.tier_id.in_([t.id for t in tiers]))
            .order_by(TierPrice.currency)
        )
        for tier_id, currency, minor in rows.all():
            prices.setdefault(tier_id, []).append(Money(minor, currency))
    return EventDetail(
        event,
        f"{venue.name}, {venue.city}" if venue else None,
        tuple(
            TierRow(t.id, t.name, t.code, t.capacity, t.sold, t.held, tuple(prices.get(t.id, [])))
            for t in tiers
        ),
    )


async def create_draft(
    session: AsyncSession, keybox: KeyBox, organizer_id: int, typed: DraftInput, *, actor: str
) -> Event:
    """Read the form, check every field, and create the draft (audited as event.created)."""
    facts = await organizer_facts(session, organizer_id)
    name = _text(typed.name, "name", "a name", longest=200)
    code = typed.code.strip().upper()
    if not setup.EVENT_CODE.match(code):
        raise InvalidInput("an event code is 2 to 16 letters or digits", field="code")
    category = _text(typed.category, "category", "a category", longest=40).lower()
    venue_id: int | None = None
    if typed.venue_id.strip():
        venue_id = whole_number(typed.venue_id, "venue_id", "the venue", 1, 2**62)
        owner = await session.scalar(select(Venue.organizer_id).where(Venue.id == venue_id))
        if owner != organizer_id:
            raise InvalidInput("choose a venue from the list", field="venue_id")
    stream_url = typed.stream_url.strip() or None
    if venue_id is None and stream_url is None:
        raise InvalidInput(
            "choose a venue, or give a stream URL for a streamed event", field="venue_id"
        )
    zone = facts.timezone
    starts = local_time(typed.starts, zone, "starts", "Starts")
    ends = local_time(typed.ends, zone, "ends", "Ends")
    doors = local_time(typed.doors, zone, "doors", "Doors open") if typed.doors.strip() else None
    if starts <= datetime.now(UTC):
        raise InvalidInput("an event cannot start in the past", field="starts")
    if ends <= starts:
        raise InvalidInput("an event must end after it starts", field="ends")
    if doors is not None and doors > starts:
        raise InvalidInput("the doors must open before the start", field="doors")
    per_order = whole_number(typed.per_order_limit, "per_order_limit", "Tickets per order", 1, 100)
    hold = whole_number(typed.hold_minutes, "hold_minutes", "Hold minutes", 1, 120)
    methods = [m for m in PAYMENT_METHODS if m in set(typed.payment_methods)]
    if not methods or len(methods) != len(set(typed.payment_methods)):
        raise InvalidInput("choose one or more payment methods from the list", field="methods")
    max_transfers = whole_number(typed.max_transfers, "max_transfers", "Transfers", 0, 20)
    cutoff = whole_number(
        typed.transfer_cutoff_minutes, "transfer_cutoff_minutes", "Cutoff", 0, MAX_CUTOFF_MINUTES
    )
    if await session.scalar(select(Event.id).where(Event.code == code)) is not None:
        raise InvalidInput(f"the code {code} is taken: choose another", field="code")
    event = await setup.create_event(
        session,
        keybox,
        setup.EventSpec(
            organizer_id=organizer_id,
            code=code,
            name=name,
            category=category,
            starts_at=starts,
            ends_at=ends,
            timezone=zone,
            country=facts.country,
            venue_id=venue_id,
            doors_open_at=doors,
            per_order_limit=per_order,
            hold_minutes=hold,
            payment_methods=methods,
            stream_url=stream_url,
        ),
        actor=actor,
    )
    event.transfers_allowed = typed.transfers_allowed
    event.max_transfers = max_transfers
    event.transfer_cutoff_minutes = cutoff
    await session.flush()
    return event


async def add_tier(
    session: AsyncSession, organizer_id: int, event_id: int, typed: TierInput, *, actor: str
) -> Tier:
    """A general-admission tier priced in the organizer's default currency (tier.added)."""
    event = await _own_event(session, organizer_id, event_id, lock=True)
    if event.status not in (EventStatus.DRAFT, EventStatus.ON_SALE):
        raise InvalidState("tiers can be added while the event is a draft or on sale")
    name = _text(typed.name, "name", "a tier name", longest=60)
    code = typed.code.strip().upper()
    if not TIER_CODE.match(code):
        raise InvalidInput("a tier code is 1 to 16 letters or digits", field="code")
    capacity = whole_number(typed.capacity, "capacity", "Capacity", 1, MAX_CAPACITY)
    currency = (await organizer_facts(session, organizer_id)).currency
    try:
        price = Money.parse(typed.price, currency)
    except MoneyError:
        raise InvalidInput(
            f"the price is an amount in {currency}, like 10.00", field="price"
        ) from None
    taken = await session.scalar(
        select(Tier.id).where(Tier.event_id == event.id, Tier.code == code)
    )
    if taken is not None:
        raise InvalidInput(f"this event already has a tier {code}", field="code")
    tier = await setup.add_tier(
        session, event.id, setup.TierSpec(code=code, name=name, prices=[price], capacity=capacity)
    )
    await audit.record(
        session,
        organizer_id=organizer_id,
        actor=actor,
        action="tier.added",
        entity="event",
        entity_id=event.id,
        data={"tier": code, "capacity": capacity, "price": price.format()},
    )
    return tier


async def publish(session: AsyncSession, organizer_id: int, event_id: int, *, actor: str) -> Event:
    """Draft to on sale (event.published); an event needs a tier before anyone can buy."""
    event = await _own_event(session, organizer_id, event_id, lock=True)
    if event.status != EventStatus.DRAFT:
        raise InvalidState("only a draft can be published")
    if await session.scalar(select(Tier.id).where(Tier.event_id == event.id).limit(1)) is None:
        raise InvalidState("add a tier before publishing")
    await setup.publish(session, event, actor=actor)
    return event


async def close_sales(
    session: AsyncSession, organizer_id: int, event_id: int, *, actor: str
) -> Event:
    """On sale to sales closed (event.sales_closed): tickets already sold stay valid."""
    event = await _own_event(session, organizer_id, event_id, lock=True)
    if event.status != EventStatus.ON_SALE:
        raise InvalidState("only an event on sale can close its sales")
    event.status = EventStatus.SALES_CLOSED
    await audit.record(
        session,
        organizer_id=organizer_id,
        actor=actor,
        action="event.sales_closed",
        entity="event",
        entity_id=event.id,
    )
    return event
