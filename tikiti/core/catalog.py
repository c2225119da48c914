"""What is on sale: events by date, category, venue or text, and tiers with live availability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.db import Query, Reader, fetch
from tikiti.core.models import Event, EventStatus, Venue
from tikiti.core.money import Money

FEW_LEFT = 20


@dataclass(frozen=True, slots=True)
class EventSummary:
    id: int
    code: str
    name: str
    category: str
    starts_at: datetime
    timezone: str
    venue: str | None
    city: str | None


@dataclass(frozen=True, slots=True)
class TierAvailability:
    id: int
    code: str
    name: str
    capacity: int
    available: int
    prices: dict[str, Money]

    @property
    def sold_out(self) -> bool:
        return self.available <= 0

    @property
    def few_left(self) -> bool:
        return 0 < self.available <= min(FEW_LEFT, max(self.capacity // 10, 1))


@dataclass(frozen=True, slots=True)
class EventFilter:
    category: str | None = None
    venue_id: int | None = None
    text: str | None = None
    starts_from: datetime | None = None
    starts_until: datetime | None = None
    organizer_id: int | None = None


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if f.category:
        found.append(func.lower(Event.category) == f.category.lower())
    if f.venue_id:
        found.append(Event.venue_id == f.venue_id)
    if f.organizer_id:
        found.append(Event.organizer_id == f.organizer_id)
    if f.starts_until:
        found.append(Event.starts_at < f.starts_until)
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found.append(or_(Event.name.ilike(pattern), Event.code.ilike(pattern)))
    return found


async def events_on_sale(
    session: Reader,
    filters: EventFilter = EventFilter(),
    *,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[EventSummary]:
    """Upcoming events that are on sale, the newest on sale first (then the soonest)."""
    now = now or datetime.now(UTC)
    query = (
        select(
            Event.id,
            Event.code,
            Event.name,
            Event.category,
            Event.starts_at,
            Event.timezone,
            Venue.name,
            Venue.city,
        )
        .outerjoin(Venue, Venue.id == Event.venue_id)
        .where(Event.status == EventStatus.ON_SALE, Event.ends_at > (filters.starts_from or now))
        .order_by(Event.published_at.desc().nulls_last(), Event.starts_at, Event.id)
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(query.where(*_conditions(filters)))).all()
    return [EventSummary(*row) for row in rows]


async def event_by_code(session: AsyncSession, code: str) -> Event | None:
    return await session.scalar(select(Event).where(Event.code == code.strip().upper()))


_TIERS = Query(
    """
    SELECT t.id, t.code, t.name, t.capacity,
           t.capacity - t.sold - t.held - t.allocated AS available,
           coalesce(json_object_agg(p.currency, p.amount_minor)
                    FILTER (WHERE p.currency IS NOT NULL), '{}') AS prices
      FROM tiers t LEFT JOIN tier_prices p ON p.tier_id = t.id
     WHERE t.event_id = :event_id AND t.active AND (:tier_id = 0 OR t.id = :tier_id)
     GROUP BY t.id
     ORDER BY t.sort_order, t.id
    """
)


async def tiers(reader: Reader, event_id: int, *, tier_id: int = 0) -> list[TierAvailability]:
    """Tiers with what is left right now and their prices in every currency (one query)."""
    rows = await fetch(reader, _TIERS, event_id=event_id, tier_id=tier_id)
    return [
        TierAvailability(
            id_,
            code,
            name,
            capacity,
            available,
            {currency: Money(int(amount), currency) for currency, amount in prices.items()},
        )
        for id_, code, name, capacity, available, prices in rows
    ]


_EVENT_FACTS = Query(
    """
    SELECT e.name, e.country, e.per_order_limit, e.payment_methods, o.default_currency
      FROM events e JOIN organizers o ON o.id = e.organizer_id
     WHERE e.id = :event_id
    """
)


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What a buyer's journey needs to know about an event, read once when it is chosen."""

    name: str
    country: str
    per_order_limit: int
    payment_methods: list[str]
    currency: str


async def event_facts(reader: Reader, event_id: int) -> EventFacts | None:
    rows = await fetch(reader, _EVENT_FACTS, event_id=event_id)
    if not rows:
        return None
    name, country, per_order_limit, payment_methods, currency = rows[0]
    return EventFacts(name, country, per_order_limit, list(payment_methods), currency)
