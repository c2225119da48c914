"""The organizer's CSV exports: sales lines, attendance and ledger entries, for one organizer.

Each export is a header and rows of text. Money leaves as decimal strings ("20.00"), never as
floats; times as ISO 8601 in UTC. Ticket codes are masked but for their last characters, so
an attendance file cannot be used to walk into the event. Cells that a spreadsheet would read
as a formula are defused by `safe_cell`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core.errors import NotFound
from tikiti.core.models import Event, LedgerEntry, Order, OrderLine, OrderStatus, Ticket, Tier
from tikiti.core.money import Money

Reader = AsyncSession | AsyncConnection
Row = tuple[str, ...]
SOLD = (OrderStatus.PAID, OrderStatus.FULFILLED)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
VISIBLE_CODE_CHARS = 4
# A plain decimal number ("-20.00") is no formula: negative amounts stay numbers.
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

SALES_HEADER: Row = (
    "order_reference",
    "event_code",
    "tier",
    "quantity",
    "unit_price",
    "discount",
    "currency",
    "channel",
    "agent_id",
    "reseller_id",
    "created_at",
)
ATTENDANCE_HEADER: Row = ("code", "tier", "status", "checked_in_at", "gate")
LEDGER_HEADER: Row = (
    "txn",
    "created_at",
    "kind",
    "account",
    "amount",
    "currency",
    "order_id",
    "agent_id",
    "memo",
)


@dataclass(frozen=True, slots=True)
class Export:
    header: Row
    rows: tuple[Row, ...]


def safe_cell(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe and stays text."""
    if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The whole file: a header line, then one line per row, every cell defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def mask_code(code: str) -> str:
    """All but the last few characters hidden; a code that short is hidden entirely."""
    if len(code) <= VISIBLE_CODE_CHARS:
        return "*" * len(code)
    return "*" * (len(code) - VISIBLE_CODE_CHARS) + code[-VISIBLE_CODE_CHARS:]


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def _id(value: int | None) -> str:
    return "" if value is None else str(value)


def _amount(minor: int, currency: str) -> str:
    return Money(int(minor), currency).decimal_string()


async def check_event(session: Reader, organizer_id: int, event_id: int) -> None:
    """Another organizer's event is as absent as one that does not exist."""
    found = (
        await session.execute(
            select(Event.id).where(Event.id == event_id, Event.organizer_id == organizer_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound("no such event", event_id=event_id, organizer_id=organizer_id)


async def sales(session: Reader, organizer_id: int, event_id: int | None = None) -> Export:
    """One row per line of each paid or fulfilled order."""
    query = (
        select(
            Order.reference,
            Event.code,
            Tier.name,
            OrderLine.quantity,
            OrderLine.unit_price_minor,
            OrderLine.discount_minor,
            Order.currency,
            Order.channel,
            Order.agent_id,
            Order.reseller_id,
            Order.created_at,
        )
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Event, Event.id == Order.event_id)
        .join(Tier, Tier.id == OrderLine.tier_id)
        .where(Order.organizer_id == organizer_id, Order.status.in_(SOLD))
        .order_by(Order.created_at, Order.id, OrderLine.id)
    )
    if event_id is not None:
        await check_event(session, organizer_id, event_id)
        query = query.where(Order.event_id == event_id)
    rows = (await session.execute(query)).all()
    return Export(
        SALES_HEADER,
        tuple(
            (
                reference,
                event_code,
                tier,
                str(quantity),
                _amount(unit_price, currency),
                _amount(discount, currency),
                currency,
                channel,
                _id(agent_id),
                _id(reseller_id),
                _when(created_at),
            )
            for (
                reference,
                event_code,
                tier,
                quantity,
                unit_price,
                discount,
                currency,
                channel,
                agent_id,
                reseller_id,
                created_at,
            ) in rows
        ),
    )


async def attendance(session: Reader, organizer_id: int, event_id: int) -> Export:
    """One row per ticket of the event, its code masked."""
    await check_event(session, organizer_id, event_id)
    query = (
        select(Ticket.code, Tier.name, Ticket.status, Ticket.checked_in_at, Ticket.checked_in_gate)
        .select_from(Ticket)
        .join(Tier, Tier.id == Ticket.tier_id)
        .where(Ticket.event_id == event_id)
        .order_by(Ticket.id)
    )
    rows = (await session.execute(query)).all()
    return Export(
        ATTENDANCE_HEADER,
        tuple(
            (mask_code(code), tier, str(status.value), _when(checked_in_at), gate or "")
            for code, tier, status, checked_in_at, gate in rows
        ),
    )


async def ledger(session: Reader, organizer_id: int, event_id: int | None = None) -> Export:
    """The organizer's ledger entries, in the order they were written."""
    query = (
        select(
            LedgerEntry.txn,
            LedgerEntry.created_at,
            LedgerEntry.kind,
            LedgerEntry.account,
            LedgerEntry.amount_minor,
            LedgerEntry.currency,
            LedgerEntry.order_id,
            LedgerEntry.agent_id,
            LedgerEntry.memo,
        )
        .where(LedgerEntry.organizer_id == organizer_id)
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    )
    if event_id is not None:
        await check_event(session, organizer_id, event_id)
        query = query.where(LedgerEntry.event_id == event_id)
    rows = (await session.execute(query)).all()
    return Export(
        LEDGER_HEADER,
        tuple(
            (
                str(txn),
                _when(created_at),
                kind,
                account,
                _amount(amount, currency),
                currency,
                _id(order_id),
                _id(agent_id),
                memo or "",
            )
            for txn, created_at, kind, account, amount, currency, order_id, agent_id, memo in rows
        ),
    )
