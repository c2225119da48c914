"""What is on sale: events by date, category, venue or text, and tiers with live availability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.models import Event, EventStatus, Tier, TierPrice, Venue
from tikiti.core.money import Money

FEW_LEFT = 20
_Query = TypeVar("_Query", bound=Select[Any, Any, Any])


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


def _filtered(query: _Query, f: EventFilter) -> _Query:
    if f.category:
        query = query.where(func.lower(Event.category) == f.category.lower())
    if f.venue_id:
        query = query.where(Event.venue_id == f.venue_id)
    if f.organizer_id:
        query = query.where(Event.organizer_id == f.organizer_id)
    if f.starts_until:
        query = query.where(Event.starts_at < f.starts_until)
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Event.name.ilike(pattern), Event.code.ilike(pattern)))
    return query


async def events_on_sale(
    session: AsyncSession,
    filters: EventFilter = EventFilter(),
    *,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[EventSummary]:
    """Upcoming events that are on sale, the newest on sale first (then the soonest)."""
    now = now or datetime.now(UTC)
    query = (
        select(Event, Venue.name, Venue.city)
        .outerjoin(Venue, Venue.id == Event.venue_id)
        .where(Event.status == EventStatus.ON_SALE, Event.ends_at > (filters.starts_from or now))
        .order_by(Event.published_at.desc().nulls_last(), Event.starts_at, Event.id)
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(_filtered(query, filters))).all()
    return [
        EventSummary(e.id, e.code, e.name, e.category, e.starts_at, e.timezone, venue, city)
        for e, venue, city in rows
    ]


async def event_by_code(session: AsyncSession, code: str) -> Event | None:
    return await session.scalar(select(Event).where(Event.code == code.strip().upper()))


async def tiers(session: AsyncSession, event_id: int) -> list[TierAvailability]:
    """Tiers with what is left right now and their prices in every currency."""
    rows = (
        (
            await session.execute(
                select(Tier)
                .where(Tier.event_id == event_id, Tier.active)
                .order_by(Tier.sort_order, Tier.id)
            )
        )
        .scalars()
        .all()
    )
    prices: dict[int, dict[str, Money]] = {t.id: {} for t in rows}
    for tier_id, currency, amount in await session.execute(
        select(TierPrice.tier_id, TierPrice.currency, TierPrice.amount_minor).where(
            TierPrice.tier_id.in_(prices)
        )
    ):
        prices[tier_id][currency] = Money(amount, currency)
    return [
        TierAvailability(
            t.id, t.code, t.name, t.capacity, t.capacity - t.sold - t.held, prices[t.id]
        )
        for t in rows
    ]
