"""`tikiti agent …`: register agents, fill their floats, set their rates, print statements."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.config import Settings
from tikiti.core import agent_sales, agents
from tikiti.core.db import Database, make_engine
from tikiti.core.discounts import commission_bps
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Event, Organizer, Tier
from tikiti.core.money import Money, MoneyError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("agent", help="agents who sell for cash from a float")
    sub = parser.add_subparsers(dest="agent_command", required=True)
    add = sub.add_parser("add", help="register an agent; a one-time PIN goes by SMS")
    _who(add)
    add.add_argument("--name", required=True)
    add.add_argument("--currency", default="", help="the float's currency (default: organizer's)")
    add.add_argument("--float-limit", default="0", help="most the float may hold (0: no limit)")
    add.add_argument("--commission-percent", default="0", help="e.g. 5 or 2.5")
    top_up = sub.add_parser("topup", help="add cash received from the agent to the float")
    _who(top_up)
    top_up.add_argument("--amount", required=True, help="e.g. 100.00")
    top_up.add_argument("--reason", required=True, help="why, for the audit log")
    rate = sub.add_parser("rate", help="the agent's commission on one event (or tier)")
    _who(rate)
    rate.add_argument("--event", required=True, help="the event's code")
    rate.add_argument("--tier", default="", help="a tier's code, for that tier only")
    rate.add_argument("--commission-percent", required=True)
    statement = sub.add_parser("statement", help="float movements, sales and commission")
    _who(statement)
    statement.add_argument("--from", dest="day_from", required=True, help="YYYY-MM-DD")
    statement.add_argument("--to", dest="day_to", required=True, help="YYYY-MM-DD (included)")
    statement.add_argument("--csv", action="store_true", help="CSV on stdout")


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organizer", required=True, help="the organizer's slug")
    parser.add_argument("--phone", required=True, help="the agent's mobile number")


async def _organizer(session: AsyncSession, slug: str) -> Organizer:
    organizer = await session.scalar(select(Organizer).where(Organizer.slug == slug))
    if organizer is None:
        raise NotFound(f"no organizer with slug {slug!r}")
    return organizer


async def _add(session: AsyncSession, args: argparse.Namespace) -> None:
    organizer = await _organizer(session, args.organizer)
    currency = (args.currency or organizer.default_currency).upper()
    agent, one_time = await agents.add(
        session,
        organizer_id=organizer.id,
        phone=args.phone,
        name=args.name,
        currency=currency,
        float_limit=Money.parse(args.float_limit, currency),
        commission_bps=commission_bps(args.commission_percent),
        actor="cli",
    )
    print(
        f"Agent {agent.id}: {agent.phone}, float in {currency}. "
        f"One-time PIN {one_time} (also sent by SMS; shown only now)."
    )


async def _top_up(session: AsyncSession, args: argparse.Namespace) -> None:
    organizer = await _organizer(session, args.organizer)
    agent = await agents.by_phone(session, organizer.id, args.phone)
    left = await agents.top_up(
        session,
        agent_id=agent.id,
        organizer_id=organizer.id,
        amount=Money.parse(args.amount, agent.currency),
        actor="cli",
        reason=args.reason,
    )
    print(f"Float of {agent.phone} is now {left}.")


async def _rate(session: AsyncSession, args: argparse.Namespace) -> None:
    organizer = await _organizer(session, args.organizer)
    agent = await agents.by_phone(session, organizer.id, args.phone)
    event_id = await session.scalar(
        select(Event.id).where(Event.code == args.event.upper(), Event.organizer_id == organizer.id)
    )
    if event_id is None:
        raise NotFound(f"no event {args.event!r} for {args.organizer}")
    tier_id = None
    if args.tier:
        tier_id = await session.scalar(
            select(Tier.id).where(Tier.event_id == event_id, Tier.code == args.tier.upper())
        )
        if tier_id is None:
            raise NotFound(f"no tier {args.tier!r} in {args.event}")
    bps = commission_bps(args.commission_percent)
    await agents.set_rate(
        session,
        agent_id=agent.id,
        organizer_id=organizer.id,
        event_id=event_id,
        tier_id=tier_id,
        commission_bps=bps,
        actor="cli",
    )
    print(f"{agent.phone} earns {bps / 100:g}% on {args.event.upper()} {args.tier.upper()}".strip())


def _day(text: str, zone: ZoneInfo) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=zone)
    except ValueError:
        raise InvalidInput(f"not a date (YYYY-MM-DD): {text!r}") from None


async def _statement(session: AsyncSession, args: argparse.Namespace) -> None:
    organizer = await _organizer(session, args.organizer)
    agent = await agents.by_phone(session, organizer.id, args.phone)
    zone = ZoneInfo(organizer.timezone)
    since, until = agent_sales.day_range(_day(args.day_from, zone), _day(args.day_to, zone))
    if until <= since:
        raise InvalidInput("--to is before --from")
    found = await agent_sales.statement(session, agent.id, since, until)
    rows = [
        [
            line.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            line.kind,
            line.reference,
            line.amount.decimal_string(),
            line.balance.decimal_string(),
            line.commission.decimal_string(),
        ]
        for line in found.lines
    ]
    if args.csv:
        out = csv.writer(sys.stdout)
        out.writerow(["at", "kind", "reference", "amount", "float_after", "commission"])
        out.writerows(rows)
        return
    print(f"Agent {agent.name} ({agent.phone}), {args.day_from} to {args.day_to}")
    print(f"Opening float {found.opening}")
    for row in rows:
        print("  ".join(row))
    print(f"Closing float {found.closing}; sales {found.sales}; commission {found.commission}")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(make_engine(settings.database_url, pool_size=1))
    commands = {"add": _add, "topup": _top_up, "rate": _rate, "statement": _statement}
    try:
        async with database.transaction() as session:
            await commands[args.agent_command](session, args)
    except MoneyError as error:  # an amount typed wrong: a message, not a trace
        raise InvalidInput(str(error)) from None
    finally:
        await database.dispose()
    return 0
