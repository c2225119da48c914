"""`tikiti reseller …` and `tikiti promo …`: reseller codes with their quotas, and promo codes."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.config import Settings
from tikiti.core import promos, resellers
from tikiti.core.db import Database, make_engine
from tikiti.core.discounts import Rule, commission_bps, describe, percent_to_bps
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Event, Organizer, PromoCode, Reseller, Tier
from tikiti.core.money import Money, MoneyError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reseller = commands.add_parser("reseller", help="online sellers with a code, and their quotas")
    sub = reseller.add_subparsers(dest="reseller_command", required=True)
    add = sub.add_parser("add", help="register a reseller code, e.g. TINO")
    add.add_argument("--organizer", required=True, help="the organizer's slug")
    add.add_argument("--code", required=True, help="2 to 12 letters and digits buyers type")
    add.add_argument("--name", required=True)
    add.add_argument("--phone", default="", help="the reseller's mobile number")
    add.add_argument("--commission-percent", default="0", help="of each sale, e.g. 5 or 2.5")
    allocate = sub.add_parser("allocate", help="set aside places of a tier for a reseller")
    allocate.add_argument("--code", required=True, help="the reseller's code")
    allocate.add_argument("--event", required=True, help="the event's code, e.g. ZIMFEST")
    allocate.add_argument("--tier", required=True, help="the tier's code, e.g. VIP")
    allocate.add_argument("--places", type=int, required=True, help="the allocation's new size")
    listing = sub.add_parser("list", help="an organizer's resellers and their allocations")
    listing.add_argument("--organizer", required=True, help="the organizer's slug")
    promo = commands.add_parser("promo", help="promo codes: discounts buyers type")
    promo_sub = promo.add_subparsers(dest="promo_command", required=True)
    create = promo_sub.add_parser("add", help="create a promo code for an event (or a tier)")
    create.add_argument("--event", required=True, help="the event's code")
    create.add_argument("--tier", default="", help="a tier's code, for that tier only")
    create.add_argument("--code", required=True, help="2 to 16 letters and digits, e.g. EARLY10")
    value = create.add_mutually_exclusive_group(required=True)
    value.add_argument("--percent", help="percent off, e.g. 10 or 12.5")
    value.add_argument("--amount", help="amount off each order, e.g. 2.00")
    create.add_argument("--currency", default="", help="of --amount (default: organizer's)")
    create.add_argument("--max-uses", type=int, default=None, help="orders in all (no limit)")
    create.add_argument("--per-buyer", type=int, default=None, help="orders per phone (no limit)")
    create.add_argument("--from", dest="valid_from", default="", help="YYYY-MM-DD [HH:MM]")
    create.add_argument(
        "--until", default="", help="YYYY-MM-DD (that day included) or YYYY-MM-DD HH:MM"
    )
    shown = promo_sub.add_parser("list", help="an event's promo codes and their uses")
    shown.add_argument("--event", required=True, help="the event's code")


async def _organizer(session: AsyncSession, slug: str) -> Organizer:
    organizer = await session.scalar(select(Organizer).where(Organizer.slug == slug))
    if organizer is None:
        raise NotFound(f"no organizer with slug {slug!r}")
    return organizer


async def _event(session: AsyncSession, code: str) -> Event:
    event = await session.scalar(select(Event).where(Event.code == code.strip().upper()))
    if event is None:
        raise NotFound(f"no event with code {code!r}")
    return event


async def _tier(session: AsyncSession, event: Event, code: str) -> Tier:
    tier = await session.scalar(
        select(Tier).where(Tier.event_id == event.id, Tier.code == code.strip().upper())
    )
    if tier is None:
        raise NotFound(f"no tier {code!r} in {event.code}")
    return tier


async def _add_reseller(session: AsyncSession, args: argparse.Namespace) -> None:
    organizer = await _organizer(session, args.organizer)
    reseller = await resellers.add(
        session,
        organizer_id=organizer.id,
        code=args.code,
        name=args.name,
        phone=args.phone or None,
        commission_bps=commission_bps(args.commission_percent),
        actor="cli",
    )
    print(
        f"Reseller {reseller.code} ({reseller.name}) at {organizer.slug}, "
        f"commission {reseller.commission_bps / 100:g}%."
    )


async def _allocate(session: AsyncSession, args: argparse.Namespace) -> None:
    event = await _event(session, args.event)
    tier = await _tier(session, event, args.tier)
    found = await resellers.find(session, organizer_id=event.organizer_id, code=args.code)
    allocation = await resellers.allocate(
        session, reseller_id=found.id, tier_id=tier.id, places=args.places, actor="cli"
    )
    print(
        f"{found.code} has {allocation.capacity} places of {event.code} {tier.code} "
        f"({allocation.sold} sold, {allocation.held} held, {allocation.left} left)."
    )


async def _list_resellers(session: AsyncSession, args: argparse.Namespace) -> None:
    organizer = await _organizer(session, args.organizer)
    rows = await session.scalars(
        select(Reseller).where(Reseller.organizer_id == organizer.id).order_by(Reseller.code)
    )
    for row in rows:
        owed = await resellers.commission_owed(session, row, organizer.default_currency)
        state = "" if row.active else " (off)"
        print(f"{row.code}\t{row.name}\t{row.commission_bps / 100:g}%\towed {owed}{state}")
        for allocation in await resellers.allocations(session, row.id):
            tier = await session.get_one(Tier, allocation.tier_id)
            event_code = await session.scalar(select(Event.code).where(Event.id == tier.event_id))
            print(
                f"\t{event_code} {tier.code}: {allocation.capacity} places, "
                f"{allocation.sold} sold, {allocation.held} held"
            )


def _when(text: str, zone: ZoneInfo, *, end_of_day: bool) -> datetime | None:
    """A day or a minute in the event's time zone; a bare `--until` day is included."""
    text = text.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text, pattern).replace(tzinfo=zone)
        except ValueError:
            continue
        whole_day = pattern == "%Y-%m-%d"
        return moment + timedelta(days=1) if whole_day and end_of_day else moment
    raise InvalidInput(f"not a date (YYYY-MM-DD [HH:MM]): {text!r}")


async def _add_promo(session: AsyncSession, args: argparse.Namespace) -> None:
    event = await _event(session, args.event)
    tier = await _tier(session, event, args.tier) if args.tier else None
    zone = ZoneInfo(event.timezone)
    amount = None
    if args.amount is not None:
        currency = args.currency.strip().upper()
        if not currency:
            organizer = await session.get_one(Organizer, event.organizer_id)
            currency = organizer.default_currency
        amount = Money.parse(args.amount, currency)
    terms = promos.Terms(
        percent_bps=None if args.percent is None else percent_to_bps(args.percent),
        amount=amount,
        tier_id=tier.id if tier else None,
        starts_at=_when(args.valid_from, zone, end_of_day=False),
        ends_at=_when(args.until, zone, end_of_day=True),
        max_uses=args.max_uses,
        per_buyer_limit=args.per_buyer,
    )
    promo = await promos.add(session, event_id=event.id, code=args.code, terms=terms, actor="cli")
    print(f"Promo code {promo.code} for {event.code}: {_line(promo, tier.code if tier else '')}.")


def _line(promo: PromoCode, tier_code: str) -> str:
    rule = Rule(promo.kind, promo.value, promo.currency, promo.tier_id)
    parts = [describe(rule) + (f" {tier_code}" if tier_code else "")]
    limit = "no limit" if promo.max_uses is None else str(promo.max_uses)
    parts.append(f"used {promo.used} of {limit}")
    if promo.per_buyer_limit is not None:
        parts.append(f"{promo.per_buyer_limit} per buyer")
    return ", ".join(parts)


def _window(promo: PromoCode, zone: ZoneInfo) -> str:
    def shown(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "…"

    return f"{shown(promo.starts_at)} to {shown(promo.ends_at)}"


async def _list_promos(session: AsyncSession, args: argparse.Namespace) -> None:
    event = await _event(session, args.event)
    zone = ZoneInfo(event.timezone)
    tiers = dict(
        (await session.execute(select(Tier.id, Tier.code).where(Tier.event_id == event.id))).all()
    )
    for promo in await promos.listing(session, event.id):
        state = "" if promo.active else "\t(off)"
        tier_code = tiers.get(promo.tier_id, "") if promo.tier_id else ""
        print(f"{promo.code}\t{_line(promo, tier_code)}\t{_window(promo, zone)}{state}")


_COMMANDS = {
    ("reseller", "add"): _add_reseller,
    ("reseller", "allocate"): _allocate,
    ("reseller", "list"): _list_resellers,
    ("promo", "add"): _add_promo,
    ("promo", "list"): _list_promos,
}


async def run(settings: Settings, args: argparse.Namespace) -> int:
    action = getattr(args, f"{args.command}_command")
    database = Database(make_engine(settings.database_url, pool_size=1))
    try:
        async with database.transaction() as session:
            await _COMMANDS[args.command, action](session, args)
    except MoneyError as error:  # an amount typed wrong: a message, not a trace
        raise InvalidInput(str(error)) from None
    finally:
        await database.dispose()
    return 0
