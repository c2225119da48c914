"""`tikiti payments …`: set up an organizer's provider account; compare ledger and provider."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from tikiti.config import Settings
from tikiti.core import payment_accounts
from tikiti.core.db import Database, make_engine
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Organizer
from tikiti.core.signing import KeyBox
from tikiti.payments.reconcile import Reconciler
from tikiti.payments.service import Payments
from tikiti.providers import PROVIDERS


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payments = commands.add_parser("payments", help="payment providers and reconciliation")
    sub = payments.add_subparsers(dest="payments_command", required=True)
    account = sub.add_parser("account", help="set an organizer's provider account")
    account.add_argument("--organizer", required=True, help="the organizer's slug")
    account.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    account.add_argument("--methods", required=True, help="comma-separated, e.g. ecocash,onemoney")
    account.add_argument(
        "--live", action="store_true",
        help="mark the account as taking real money (the credentials and base_url decide)",
    )  # fmt: skip
    account.add_argument(
        "--credentials-stdin", action="store_true", required=True,
        help="read the credentials as one JSON object from stdin (never on the command line)",
    )  # fmt: skip
    reconcile = sub.add_parser("reconcile", help="print where our ledger and a provider disagree")
    reconcile.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    reconcile.add_argument("--since", required=True, type=_date, help="YYYY-MM-DD (UTC)")


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _credentials() -> dict[str, str]:
    try:
        value = json.loads(sys.stdin.read())
    except json.JSONDecodeError as error:
        raise InvalidInput(f"the credentials are not JSON: {error.msg}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput("the credentials must be a JSON object of strings")
    return value


async def _account(settings: Settings, args: argparse.Namespace) -> None:
    credentials = _credentials()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(methods) - set(PROVIDERS[args.provider].methods)
    if unknown:
        raise InvalidInput(f"{args.provider} does not take {', '.join(sorted(unknown))}")
    database = Database(make_engine(settings.database_url, pool_size=1))
    try:
        async with database.transaction() as session:
            organizer_id = await session.scalar(
                select(Organizer.id).where(Organizer.slug == args.organizer)
            )
            if organizer_id is None:
                raise NotFound(f"no organizer with slug {args.organizer!r}")
            await payment_accounts.save(
                session, KeyBox(settings.secret_key), organizer_id=organizer_id,
                provider=args.provider, methods=methods, credentials=credentials,
                live=args.live, actor="cli",
            )  # fmt: skip
    finally:
        await database.dispose()
    print(f"{args.provider} now takes {', '.join(methods)} for {args.organizer}.")


async def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(make_engine(settings.database_url, pool_size=2))
    found = 0
    try:
        async with aiohttp.ClientSession() as http:
            payments = Payments(
                database, KeyBox(settings.secret_key), PROVIDERS, http,
                public_url=settings.public_url,
            )  # fmt: skip
            async for d in Reconciler(payments).disagreements(args.provider, args.since):
                found += 1
                sides = f"ours={d.ours}  theirs={d.theirs}"
                print(f"payment {d.payment_id}  {d.reference}  {sides}  {d.detail}")
    finally:
        await database.dispose()
    print(f"{found} disagreement(s) with {args.provider} since {args.since:%Y-%m-%d}.")
    return found


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """The exit status: reconcile answers 1 when it found disagreements, for cron and alerts."""
    if args.payments_command == "account":
        await _account(settings, args)
        return 0
    return 1 if await _reconcile(settings, args) else 0
