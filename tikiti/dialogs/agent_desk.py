"""The agent's side of the menu: PIN (and a PIN of their own on first use), then selling
for cash from the float, the balance, today's sales, checking a code, the last movements."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tikiti.core import agent_sales, agents, pins, tickets
from tikiti.core.callers import Caller
from tikiti.core.errors import CoreError, SoldOut
from tikiti.core.models import Agent
from tikiti.core.money import Money
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.machine import State
from tikiti.dialogs.session import Session

HISTORY = 5


def start(session: Session, caller: Caller) -> None:
    """A registered agent's phone opens on the agent PIN; the buyer menu is one step away."""
    agent = caller.agent
    if agent is None:
        return
    session.data["agent"] = {
        "agent_id": agent.agent_id,
        "name": agent.name,
        "currency": agent.currency,
        "must_change_pin": agent.must_change_pin,
        "timezone": agent.timezone,
    }
    session.state = State.AGENT_PIN.value
    session.stack = [State.HOME.value]


def record(ctx: Ctx) -> dict[str, object]:
    found = ctx.data.get("agent")
    if not isinstance(found, dict):
        raise LookupError("the conversation has no agent")
    return found


def agent_id(ctx: Ctx) -> int:
    return int(str(record(ctx)["agent_id"]))


async def try_pin(ctx: Ctx, pin: str) -> pins.Attempt | None:
    """None for input that is not a PIN at all: a slip of the keypad costs no try."""
    if not pins.looks_like_pin(pin):
        return None
    async with ctx.db.transaction() as session:
        return await agents.try_pin(session, agent_id(ctx), pin, ctx.now)


def enter_home(ctx: Ctx) -> None:
    ctx.data["agent_ok"] = True
    ctx.data["home"] = State.AGENT_HOME.value
    ctx.data.pop("agent_sale", None)


async def save_pin(ctx: Ctx, pin: str) -> None:
    async with ctx.db.transaction() as session:
        await agents.set_pin(session, agent_id(ctx), pin)
    record(ctx)["must_change_pin"] = False


async def sell(ctx: Ctx, pin: str) -> str | None:
    """The sale, behind the PIN typed to confirm it; None when sold, else the reason why not."""
    attempt = await try_pin(ctx, pin)
    if attempt is None or not attempt.ok:
        return pin_refusal(ctx, attempt)
    ctx.session.checkouts += 1
    key = f"{ctx.inbound.channel}:{ctx.inbound.session_key}:agent-sale:{ctx.session.checkouts}"
    try:
        async with ctx.db.transaction() as session:
            sale = await agent_sales.sell(
                session,
                agent_id=agent_id(ctx),
                event_id=ctx.number("event_id"),
                tier_id=ctx.number("tier_id"),
                quantity=ctx.number("quantity"),
                buyer_phone=str(ctx.data["buyer"]),
                language=ctx.session.language,
                idempotency_key=key,
                now=ctx.now,
            )
    except agents.InsufficientFloat as error:
        left = Money(error.available, str(record(ctx)["currency"]))
        return ctx.t("Your float is too low: {left} left. Ask for a top-up.", left=str(left))
    except SoldOut as error:
        if error.available > 0:
            return ctx.t("Sorry, only {left} left.", left=error.available)
        return ctx.t("Sorry, that ticket is sold out.")
    except CoreError:
        return ctx.t("This sale is not possible now. Nothing was charged.")
    ctx.data["sold"] = {
        "reference": sale.reference,
        "total": str(sale.total),
        "float": str(sale.float_left),
        "buyer": str(ctx.data["buyer"]),
    }
    return None


def pin_refusal(ctx: Ctx, attempt: pins.Attempt | None) -> str:
    if attempt is None:
        return ctx.t("Enter your PIN: digits only.")
    if attempt.locked_until is not None:
        zone = ZoneInfo(str(record(ctx).get("timezone", "UTC")))
        until = attempt.locked_until.astimezone(zone).strftime("%H:%M")
        return ctx.t("Too many wrong PINs. Try again after {time}.", time=until)
    return ctx.t("Wrong PIN. {left} tries left.", left=attempt.tries_left)


async def balance_text(ctx: Ctx) -> str:
    async with ctx.db.transaction() as session:
        agent = await session.get_one(Agent, agent_id(ctx))
        earned = await agent_sales.commission_earned(session, agent.id)
    return ctx.t(
        "Float: {float}. Commission earned: {earned}.",
        float=str(Money(agent.float_minor, agent.currency)),
        earned=str(Money(earned, agent.currency)),
    )


async def today_text(ctx: Ctx) -> str:
    async with ctx.db.transaction() as session:
        done = await agent_sales.today(session, agent_id(ctx), ctx.now)
    return ctx.t(
        "Today: {orders} sales, {tickets} tickets, {total}.",
        orders=done.orders,
        tickets=done.tickets,
        total=str(done.total),
    )


async def history_text(ctx: Ctx) -> str:
    async with ctx.db.transaction() as session:
        found = await agent_sales.movements(session, agent_id(ctx), limit=HISTORY)
    if not found:
        return ctx.t("No float movements yet.")
    lines = [f"{m.at.strftime('%d/%m')} {_kind(ctx, m.kind)} {_signed(m.amount)}" for m in found]
    return "\n".join(lines)


def _kind(ctx: Ctx, kind: str) -> str:
    return ctx.t("Top-up") if kind == "float_top_up" else ctx.t("Sale")


def _signed(amount: Money) -> str:
    return f"+{amount}" if amount.minor > 0 else f"-{Money(-amount.minor, amount.currency)}"


async def verify(ctx: Ctx, code: str) -> None:
    """Look a code up (never check it in): agents answer buyers who doubt a ticket."""
    organizer = await _organizer(ctx)
    async with ctx.db.transaction() as session:
        facts = await tickets.describe(session, organizer, code)
    if facts is None:
        ctx.data["agent_verified"] = ctx.t("NOT FOUND. Check the code and try again.")
    elif facts.status != "valid":
        ctx.data["agent_verified"] = ctx.t("NOT VALID: this ticket was refunded or cancelled.")
    elif facts.checked_in_at is not None:
        at = facts.checked_in_at.astimezone(ZoneInfo(facts.timezone)).strftime("%H:%M")
        ctx.data["agent_verified"] = ctx.t(
            "ALREADY USED {time} GATE {gate}", time=at, gate=facts.gate or "?"
        )
    else:
        ctx.data["agent_verified"] = ctx.t(
            "VALID: {event}, {tier}. Not used yet.", event=facts.event_name[:30], tier=facts.tier
        )


async def _organizer(ctx: Ctx) -> int:
    async with ctx.db.transaction() as session:
        agent = await session.get_one(Agent, agent_id(ctx))
        return agent.organizer_id
