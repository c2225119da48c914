"""The organizer's dashboard figures, read straight from orders and tickets for one organizer.

A sale is an order that was paid (or paid and fulfilled); it counts on the day, in the
organizer's time zone, when the order was placed. Refunded, expired and cancelled orders never
count. Amounts stay per currency: there is no rate to add USD to ZWG.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core.errors import NotFound
from tikiti.core.models import (
    Event,
    EventStatus,
    Order,
    OrderLine,
    OrderStatus,
    Organizer,
    Ticket,
    Tier,
)
from tikiti.core.money import Money

Reader = AsyncSession | AsyncConnection
SOLD = (OrderStatus.PAID, OrderStatus.FULFILLED)
RECENT_DAYS = 14
# Events that ended longer ago than this leave the per-tier and per-gate tables; totals keep them.
CURRENT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Totals:
    orders: int
    tickets: int
    revenue: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class TierSales:
    event_name: str
    tier_name: str
    capacity: int
    tickets: int
    revenue: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class ChannelSales:
    channel: str
    orders: int
    tickets: int
    revenue: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class GateCount:
    event_name: str
    gate: str
    admitted: int


@dataclass(frozen=True, slots=True)
class DaySales:
    day: date
    tickets: int
    revenue: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class Dashboard:
    organizer_name: str
    timezone: str
    today: Totals
    total: Totals
    tiers: tuple[TierSales, ...]
    channels: tuple[ChannelSales, ...]
    gates: tuple[GateCount, ...]
    days: tuple[DaySales, ...]


def _money(amounts: Iterable[tuple[str, int]]) -> tuple[Money, ...]:
    summed: dict[str, int] = defaultdict(int)
    for currency, minor in amounts:
        summed[currency] += int(minor or 0)
    return tuple(Money(summed[c], c) for c in sorted(summed))


def _sold(organizer_id: int) -> tuple[ColumnElement[bool], ...]:
    return Order.organizer_id == organizer_id, Order.status.in_(SOLD)


def _lines() -> Select[tuple[object, ...]]:
    """Order lines of sold orders; revenue is price times quantity less the line's share of a
    promo code's discount, which is what was paid."""
    return select().select_from(OrderLine).join(Order, Order.id == OrderLine.order_id)


_REVENUE = func.sum(OrderLine.quantity * OrderLine.unit_price_minor - OrderLine.discount_minor)


async def _totals(session: Reader, organizer_id: int, day_start: datetime) -> tuple[Totals, Totals]:
    today = Order.created_at >= day_start
    query = (
        _lines()
        .add_columns(
            Order.currency,
            func.count(func.distinct(Order.id)),
            func.sum(OrderLine.quantity),
            _REVENUE,
            func.count(func.distinct(Order.id)).filter(today),
            func.sum(OrderLine.quantity).filter(today),
            _REVENUE.filter(today),
        )
        .where(*_sold(organizer_id))
        .group_by(Order.currency)
    )
    rows = (await session.execute(query)).all()
    total = Totals(
        sum(int(r[1]) for r in rows),
        sum(int(r[2] or 0) for r in rows),
        _money((r[0], r[3]) for r in rows),
    )
    day = Totals(
        sum(int(r[4] or 0) for r in rows),
        sum(int(r[5] or 0) for r in rows),
        _money((r[0], r[6]) for r in rows if r[6]),
    )
    return day, total


async def _channels(session: Reader, organizer_id: int) -> tuple[ChannelSales, ...]:
    query = (
        _lines()
        .add_columns(
            Order.channel,
            Order.currency,
            func.count(func.distinct(Order.id)),
            func.sum(OrderLine.quantity),
            _REVENUE,
        )
        .where(*_sold(organizer_id))
        .group_by(Order.channel, Order.currency)
    )
    grouped: dict[str, list[tuple[str, int, int, int]]] = defaultdict(list)
    for channel, currency, orders, tickets, revenue in (await session.execute(query)).all():
        grouped[channel].append((currency, int(orders), int(tickets), int(revenue)))
    found = [
        ChannelSales(
            channel,
            sum(r[1] for r in rows),
            sum(r[2] for r in rows),
            _money((r[0], r[3]) for r in rows),
        )
        for channel, rows in grouped.items()
    ]
    return tuple(sorted(found, key=lambda c: (-c.tickets, c.channel)))


async def _tiers(session: Reader, organizer_id: int, now: datetime) -> tuple[TierSales, ...]:
    sales = (
        _lines()
        .add_columns(OrderLine.tier_id, Order.currency, func.sum(OrderLine.quantity), _REVENUE)
        .where(*_sold(organizer_id))
        .group_by(OrderLine.tier_id, Order.currency)
    )
    sold: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for tier_id, currency, tickets, revenue in (await session.execute(sales)).all():
        sold[tier_id].append((currency, int(tickets), int(revenue)))
    tiers = (
        select(Tier.id, Event.name, Tier.name, Tier.capacity)
        .join(Event, Event.id == Tier.event_id)
        .where(
            Event.organizer_id == organizer_id,
            Event.ends_at >= now - CURRENT,
            Event.status != EventStatus.CANCELLED,
        )
        .order_by(Event.starts_at, Event.id, Tier.sort_order, Tier.id)
    )
    return tuple(
        TierSales(
            event_name,
            tier_name,
            capacity,
            sum(r[1] for r in sold.get(tier_id, [])),
            _money((r[0], r[2]) for r in sold.get(tier_id, [])),
        )
        for tier_id, event_name, tier_name, capacity in (await session.execute(tiers)).all()
    )


async def _gates(session: Reader, organizer_id: int, now: datetime) -> tuple[GateCount, ...]:
    query = (
        select(Event.name, Ticket.checked_in_gate, func.count())
        .select_from(Ticket)
        .join(Event, Event.id == Ticket.event_id)
        .where(
            Event.organizer_id == organizer_id,
            Event.ends_at >= now - CURRENT,
            Ticket.checked_in_at.is_not(None),
        )
        .group_by(Event.id, Event.name, Event.starts_at, Ticket.checked_in_gate)
        .order_by(Event.starts_at, Event.id, Ticket.checked_in_gate)
    )
    rows = (await session.execute(query)).all()
    return tuple(GateCount(name, str(gate), int(count)) for name, gate, count in rows)


async def _days(
    session: Reader, organizer_id: int, zone: str, first_day: date, first_start: datetime
) -> tuple[DaySales, ...]:
    local_day = func.date(func.timezone(zone, Order.created_at))
    query = (
        _lines()
        .add_columns(local_day, Order.currency, func.sum(OrderLine.quantity), _REVENUE)
        .where(*_sold(organizer_id), Order.created_at >= first_start)
        .group_by(local_day, Order.currency)
    )
    by_day: dict[date, list[tuple[str, int, int]]] = defaultdict(list)
    for day, currency, tickets, revenue in (await session.execute(query)).all():
        by_day[day].append((currency, int(tickets), int(revenue)))
    days = [first_day + timedelta(days=n) for n in range(RECENT_DAYS)]
    return tuple(
        DaySales(
            day,
            sum(r[1] for r in by_day.get(day, [])),
            _money((r[0], r[2]) for r in by_day.get(day, [])),
        )
        for day in days
    )


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


async def dashboard(
    session: Reader, organizer_id: int, *, now: datetime | None = None
) -> Dashboard:
    """Everything the dashboard shows, for one organizer and nobody else."""
    now = now or datetime.now(UTC)
    found = (
        await session.execute(
            select(Organizer.name, Organizer.timezone).where(Organizer.id == organizer_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound("no such organizer", organizer_id=organizer_id)
    name, zone_name = found
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=RECENT_DAYS - 1)
    day, total = await _totals(session, organizer_id, _local_midnight(today, zone))
    return Dashboard(
        organizer_name=name,
        timezone=zone_name,
        today=day,
        total=total,
        tiers=await _tiers(session, organizer_id, now),
        channels=await _channels(session, organizer_id),
        gates=await _gates(session, organizer_id, now),
        days=await _days(
            session, organizer_id, zone_name, first_day, _local_midnight(first_day, zone)
        ),
    )
