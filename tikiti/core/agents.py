"""Agents: people who sell tickets for cash from a phone, against a float they prepaid.

The float is money the organizer holds for the agent; every sale spends it, and the database
refuses a sale (or two sales at the same instant) that would take it below zero. An agent's
PIN starts as a one-time PIN sent by SMS and must be replaced on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, ledger, outbox, pins
from tikiti.core.errors import CoreError, InvalidInput, NotFound
from tikiti.core.ledger import Leg, Refs
from tikiti.core.models import Agent, AgentRate, Organizer
from tikiti.core.money import Money
from tikiti.core.phones import normalize_phone

CASH_RECEIVED = "agent_cash"  # cash an organizer took from an agent for float


class InsufficientFloat(CoreError):
    code = "insufficient_float"

    def __init__(self, message: str, *, available: int) -> None:
        super().__init__(message, available=available)
        self.available = available


class FloatLimit(CoreError):
    code = "float_limit"


@dataclass(frozen=True, slots=True)
class AgentPost:
    """Who an agent phone belongs to, read when a conversation starts."""

    agent_id: int
    name: str
    currency: str
    must_change_pin: bool
    timezone: str


async def add(
    session: AsyncSession,
    *,
    organizer_id: int,
    phone: str,
    name: str,
    currency: str,
    float_limit: Money,
    commission_bps: int,
    actor: str,
) -> tuple[Agent, str]:
    """Register an agent; returns the row and a one-time PIN, also sent to the phone by SMS."""
    organizer = await session.get(Organizer, organizer_id)
    if organizer is None:
        raise NotFound("no such organizer", organizer_id=organizer_id)
    if float_limit.currency != currency or float_limit.minor < 0:
        raise InvalidInput("the float limit is a positive amount in the float's currency")
    if not 0 <= commission_bps <= 10_000:
        raise InvalidInput("commission is 0 to 100 percent", field="commission")
    number = normalize_phone(phone, organizer.country)
    one_time = pins.new_pin()
    agent = Agent(
        organizer_id=organizer_id,
        phone=number,
        name=name.strip()[:200] or number,
        pin_hash=pins.hash_pin(one_time),
        must_change_pin=True,
        currency=currency,
        float_limit_minor=float_limit.minor,
        commission_bps=commission_bps,
    )
    try:
        async with session.begin_nested():
            session.add(agent)
            await session.flush()
    except IntegrityError as error:
        raise InvalidInput(f"{number} is already an agent", field="phone") from error
    await _audit(session, agent, actor, "agent.added", {"name": agent.name})
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="gate_pin",  # a credential: sent even to a phone that opted out of news
            channel="sms",
            address=number,
            language="en",
            body=f"Tikiti agent for {organizer.name[:40]}: your one-time PIN is {one_time}. "
            "Dial the Tikiti code and choose your own PIN.",
            dedupe_key=f"agent_pin:{agent.id}",
            organizer_id=organizer_id,
        ),
    )
    return agent, one_time


async def try_pin(session: AsyncSession, agent_id: int, pin: str, now: datetime) -> pins.Attempt:
    """One typed PIN, counted with the row locked: three wrong ones lock the agent."""
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.active).with_for_update()
    )
    if agent is None:
        return pins.Attempt(False)
    attempt, locked = await pins.attempt(agent, pin, now)
    if locked:
        await _audit(session, agent, "ussd", "agent.locked", {"until": agent.locked_until})
    return attempt


async def set_pin(session: AsyncSession, agent_id: int, pin: str) -> None:
    agent = await session.get_one(Agent, agent_id, with_for_update=True)
    agent.pin_hash = pins.hash_pin(pin)
    agent.must_change_pin = False
    await _audit(session, agent, f"agent:{agent_id}", "agent.pin_set", {})


_TOP_UP = text(
    """
    UPDATE agents SET float_minor = float_minor + :amount
     WHERE id = :id AND organizer_id = :organizer_id AND active
       AND (float_limit_minor = 0 OR float_minor + :amount <= float_limit_minor)
    RETURNING float_minor, currency
    """
)


async def top_up(
    session: AsyncSession,
    *,
    agent_id: int,
    organizer_id: int,
    amount: Money,
    actor: str,
    reason: str,
) -> Money:
    """Cash the organizer took from the agent becomes float, in one conditional statement
    (a limit of 0 means none); recorded with who and why. Returns the new float."""
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.organizer_id == organizer_id)
    )
    if agent is None:
        raise NotFound("no such agent", agent_id=agent_id)
    if amount.currency != agent.currency or amount.minor <= 0:
        raise InvalidInput(f"a top-up is a positive amount in {agent.currency}", field="amount")
    if not reason.strip():
        raise InvalidInput("say why (e.g. 'cash received at the office')", field="reason")
    row = (
        await session.execute(
            _TOP_UP, {"amount": amount.minor, "id": agent_id, "organizer_id": organizer_id}
        )
    ).one_or_none()
    if row is None:
        raise FloatLimit(
            f"the float limit is {Money(agent.float_limit_minor, agent.currency)}",
            agent_id=agent_id,
        )
    await ledger.record(
        session,
        organizer_id=organizer_id,
        kind="float_top_up",
        currency=amount.currency,
        legs=[
            Leg(CASH_RECEIVED, amount.minor),
            Leg(ledger.agent_float_account(agent_id), -amount.minor),
        ],
        refs=Refs(agent_id=agent_id),
        memo=reason.strip()[:200],
    )
    await _audit(
        session, agent, actor, "agent.topped_up", {"amount": amount.minor, "reason": reason}
    )
    return Money(int(row.float_minor), str(row.currency))


async def set_rate(
    session: AsyncSession,
    *,
    agent_id: int,
    organizer_id: int,
    event_id: int,
    tier_id: int | None,
    commission_bps: int,
    actor: str,
) -> None:
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.organizer_id == organizer_id)
    )
    if agent is None:
        raise NotFound("no such agent", agent_id=agent_id)
    if not 0 <= commission_bps <= 10_000:
        raise InvalidInput("commission is 0 to 100 percent", field="commission")
    existing = await session.scalar(
        select(AgentRate).where(
            AgentRate.agent_id == agent_id,
            AgentRate.event_id == event_id,
            AgentRate.tier_id.is_(None) if tier_id is None else AgentRate.tier_id == tier_id,
        )
    )
    if existing is None:
        session.add(
            AgentRate(
                agent_id=agent_id,
                event_id=event_id,
                tier_id=tier_id,
                commission_bps=commission_bps,
            )
        )
    else:
        existing.commission_bps = commission_bps
    await _audit(
        session,
        agent,
        actor,
        "agent.rate_set",
        {"event_id": event_id, "tier_id": tier_id, "bps": commission_bps},
    )


async def rate(session: AsyncSession, agent: Agent, event_id: int, tier_id: int) -> int:
    """The most specific rate: the tier's, else the event's, else the agent's own."""
    rows = (
        await session.execute(
            select(AgentRate.tier_id, AgentRate.commission_bps).where(
                AgentRate.agent_id == agent.id, AgentRate.event_id == event_id
            )
        )
    ).all()
    by_tier = {row.tier_id: row.commission_bps for row in rows}
    return int(by_tier.get(tier_id, by_tier.get(None, agent.commission_bps)))


async def by_phone(session: AsyncSession, organizer_id: int, phone: str) -> Agent:
    organizer = await session.get_one(Organizer, organizer_id)
    number = normalize_phone(phone, organizer.country)
    agent = await session.scalar(
        select(Agent).where(Agent.organizer_id == organizer_id, Agent.phone == number)
    )
    if agent is None:
        raise NotFound(f"no agent with phone {number}")
    return agent


async def _audit(
    session: AsyncSession, agent: Agent, actor: str, action: str, data: dict[str, object]
) -> None:
    await audit.record(
        session,
        organizer_id=agent.organizer_id,
        actor=actor,
        action=action,
        entity="agent",
        entity_id=agent.id,
        data={"phone": agent.phone, **{k: str(v) for k, v in data.items()}},
    )
