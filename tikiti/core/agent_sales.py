"""An agent's sale, and what an agent (or the organizer) reads back about the float.

A sale is one transaction: hold the places, spend the float by one conditional UPDATE (which
cannot take it below zero, and the table's CHECK says so again), record the cash payment and
the commission in the ledger, issue the tickets and queue their SMS to the buyer and a receipt
to the agent. If any step fails, nothing of it remains.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import holds, inventory, ledger, outbox, tickets
from tikiti.core.agents import InsufficientFloat, rate
from tikiti.core.codes import ALPHABET
from tikiti.core.errors import NotFound
from tikiti.core.ledger import Leg, Refs
from tikiti.core.models import (
    Agent,
    Event,
    LedgerEntry,
    Order,
    OrderStatus,
    Organizer,
    Payment,
    PaymentStatus,
)
from tikiti.core.money import Money

CHANNEL = "agent"

_SPEND = text(
    """
    UPDATE agents SET float_minor = float_minor - :amount
     WHERE id = :id AND active AND float_minor >= :amount
    RETURNING float_minor
    """
)


@dataclass(frozen=True, slots=True)
class Sale:
    order_id: int
    reference: str
    total: Money
    float_left: Money
    commission: Money
    codes: tuple[str, ...]


async def sell(
    session: AsyncSession,
    *,
    agent_id: int,
    event_id: int,
    tier_id: int,
    quantity: int,
    buyer_phone: str,
    language: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> Sale:
    """Sell for cash from the float; raises InsufficientFloat, SoldOut, SalesClosed …"""
    now = now or datetime.now(UTC)
    agent = await session.get_one(Agent, agent_id)
    placed = await holds.place_hold(
        session,
        event_id=event_id,
        items=[holds.Item(tier_id, quantity)],
        buyer_phone=buyer_phone,
        channel=CHANNEL,
        language=language,
        currency=agent.currency,
        idempotency_key=idempotency_key,
        agent_id=agent_id,
        now=now,
    )
    order = await session.get_one(Order, placed.order_id, with_for_update=True)
    if order.organizer_id != agent.organizer_id:
        raise NotFound("no such event for this agent", event_id=event_id)
    if order.status == OrderStatus.FULFILLED:  # the same sale asked twice: the first stands
        return await _replay(session, agent, order)
    left = await session.scalar(_SPEND, {"amount": order.total_minor, "id": agent_id})
    if left is None:
        raise InsufficientFloat(
            f"the float is {Money(agent.float_minor, agent.currency)}",
            available=agent.float_minor,
        )
    commission = await _record_money(session, agent, order, tier_id, now)
    await inventory.convert(session, order.id)
    order.status = OrderStatus.PAID
    issued = await tickets.issue_for_order(session, order)
    order.status = OrderStatus.FULFILLED
    sale = Sale(
        order.id,
        order.reference,
        Money(order.total_minor, order.currency),
        Money(int(left), agent.currency),
        commission,
        tuple(t.code for t in issued),
    )
    await _receipt(session, agent, order, sale, quantity)
    return sale


async def _record_money(
    session: AsyncSession, agent: Agent, order: Order, tier_id: int, now: datetime
) -> Money:
    refs = Refs(event_id=order.event_id, order_id=order.id, agent_id=agent.id)
    if order.total_minor > 0:
        payment = Payment(
            order_id=order.id,
            provider="agent",
            method="cash",
            reference=f"AGT-{order.reference}",
            merchant_reference="TK" + "".join(secrets.choice(ALPHABET) for _ in range(10)),
            idempotency_key=f"agent-sale:{order.id}",
            amount_minor=order.total_minor,
            currency=order.currency,
            payer_phone=agent.phone,
            status=PaymentStatus.PAID,
        )
        session.add(payment)
        await session.flush()
        refs = Refs(order.event_id, order.id, payment.id, agent.id)
        await ledger.record(
            session,
            organizer_id=order.organizer_id,
            kind="agent_sale",
            currency=order.currency,
            legs=[
                Leg(ledger.agent_float_account(agent.id), order.total_minor),
                Leg(ledger.SALES, -order.total_minor),
            ],
            refs=refs,
        )
    bps = await rate(session, agent, order.event_id, tier_id)
    earned = order.total_minor * bps // 10_000
    if earned > 0:
        await ledger.record(
            session,
            organizer_id=order.organizer_id,
            kind="agent_commission",
            currency=order.currency,
            legs=[
                Leg(ledger.COMMISSION_EXPENSE, earned),
                Leg(ledger.agent_commission_account(agent.id), -earned),
            ],
            refs=refs,
        )
    return Money(earned, order.currency)


async def _receipt(
    session: AsyncSession, agent: Agent, order: Order, sale: Sale, quantity: int
) -> None:
    event_name = await session.scalar(select(Event.name).where(Event.id == order.event_id))
    body = (
        f"Sold {quantity} ticket(s), {str(event_name)[:30]}, to {order.buyer_phone}. "
        f"Order {order.reference}, {sale.total}. Float {sale.float_left}. "
        f"Commission {sale.commission}."
    )
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="reply",  # the agent's own receipt, asked for by the sale
            channel="sms",
            address=agent.phone,
            language="en",
            body=body,
            dedupe_key=f"agent_receipt:{order.id}",
            organizer_id=order.organizer_id,
            order_id=order.id,
        ),
    )


async def _replay(session: AsyncSession, agent: Agent, order: Order) -> Sale:
    codes = await tickets.codes_of(session, order.id)
    earned = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.order_id == order.id,
            LedgerEntry.account == ledger.COMMISSION_EXPENSE,
        )
    )
    return Sale(
        order.id,
        order.reference,
        Money(order.total_minor, order.currency),
        Money(agent.float_minor, agent.currency),
        Money(int(earned or 0), order.currency),
        tuple(codes),
    )


@dataclass(frozen=True, slots=True)
class Today:
    orders: int
    tickets: int
    total: Money


async def today(session: AsyncSession, agent_id: int, now: datetime | None = None) -> Today:
    """Sales since midnight in the organizer's time zone."""
    now = now or datetime.now(UTC)
    agent = await session.get_one(Agent, agent_id)
    timezone = await session.scalar(
        select(Organizer.timezone).where(Organizer.id == agent.organizer_id)
    )
    zone = ZoneInfo(timezone or "UTC")
    midnight = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
    row = (
        await session.execute(
            text(
                "SELECT count(DISTINCT o.id), coalesce(sum(l.quantity), 0),"
                "       coalesce(sum(l.quantity * l.unit_price_minor), 0)"
                "  FROM orders o JOIN order_lines l ON l.order_id = o.id"
                " WHERE o.agent_id = :agent AND o.status IN ('paid', 'fulfilled')"
                "   AND o.created_at >= :since"
            ),
            {"agent": agent_id, "since": midnight},
        )
    ).one()
    return Today(int(row[0]), int(row[1]), Money(int(row[2]), agent.currency))


@dataclass(frozen=True, slots=True)
class Movement:
    at: datetime
    kind: str
    amount: Money  # + into the float, - out of it
    order_id: int | None
    memo: str


async def movements(
    session: AsyncSession,
    agent_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    newest_first: bool = True,
    limit: int | None = None,
) -> list[Movement]:
    """The float's own account in the ledger: top-ups in, sales out."""
    account = ledger.agent_float_account(agent_id)
    query = select(LedgerEntry).where(LedgerEntry.account == account)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    order = LedgerEntry.id.desc() if newest_first else LedgerEntry.id
    rows = await session.scalars(query.order_by(order).limit(limit))
    return [
        Movement(e.created_at, e.kind, Money(-e.amount_minor, e.currency), e.order_id, e.memo)
        for e in rows
    ]


async def commission_earned(
    session: AsyncSession,
    agent_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
        LedgerEntry.account == ledger.agent_commission_account(agent_id)
    )
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    return -int(await session.scalar(query) or 0)


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: str
    reference: str
    amount: Money
    balance: Money
    commission: Money


@dataclass(frozen=True, slots=True)
class Statement:
    opening: Money
    lines: tuple[StatementLine, ...]
    closing: Money
    sales: Money
    commission: Money


async def statement(
    session: AsyncSession, agent_id: int, since: datetime, until: datetime
) -> Statement:
    """Float movements between two instants with a running balance, and what they earned."""
    agent = await session.get_one(Agent, agent_id)
    zero = Money(0, agent.currency)
    before = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.account == ledger.agent_float_account(agent_id),
            LedgerEntry.created_at < since,
        )
    )
    balance = Money(-int(before or 0), agent.currency)
    opening, sales, earned = balance, zero, zero
    found = await movements(session, agent_id, since=since, until=until, newest_first=False)
    references = await _references(session, [m.order_id for m in found if m.order_id])
    commissions = await _commissions(session, agent_id, [m.order_id for m in found if m.order_id])
    lines = []
    for move in found:
        balance = balance + move.amount
        commission = Money(commissions.get(move.order_id or 0, 0), agent.currency)
        if move.kind == "agent_sale":
            sales, earned = sales - move.amount, earned + commission
        reference = references.get(move.order_id or 0, move.memo[:30])
        lines.append(StatementLine(move.at, move.kind, reference, move.amount, balance, commission))
    return Statement(opening, tuple(lines), balance, sales, earned)


async def _references(session: AsyncSession, order_ids: list[int]) -> dict[int, str]:
    rows = await session.execute(select(Order.id, Order.reference).where(Order.id.in_(order_ids)))
    return {row.id: row.reference for row in rows}


async def _commissions(
    session: AsyncSession, agent_id: int, order_ids: list[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(LedgerEntry.order_id, func.sum(LedgerEntry.amount_minor))
        .where(
            LedgerEntry.account == ledger.agent_commission_account(agent_id),
            LedgerEntry.order_id.in_(order_ids),
        )
        .group_by(LedgerEntry.order_id)
    )
    return {int(order_id or 0): -int(total or 0) for order_id, total in rows}


def day_range(day_from: datetime, day_to: datetime) -> tuple[datetime, datetime]:
    """A statement's `--to` day is included: the range ends at the next midnight."""
    return day_from, day_to + timedelta(days=1)
