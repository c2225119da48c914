"""The `tikiti` command: demo, phone, serve, worker, db upgrade, seed, user add."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web
from sqlalchemy import select

from tikiti import (
    cli_agents,
    cli_gate,
    cli_payments,
    cli_sales,
    cli_telegram,
    phone,
    schema,
    worker,
)
from tikiti.config import Settings, SettingsError, load_settings
from tikiti.core import demo_data, users
from tikiti.core.db import Database, make_engine
from tikiti.core.errors import CoreError
from tikiti.core.models import Organizer, Role
from tikiti.core.signing import KeyBox
from tikiti.dialogs import diagram
from tikiti.embedded import default_data_dir
from tikiti.web import create_app

logger = logging.getLogger("tikiti")


class CommandError(Exception):
    """A user mistake on the command line: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tikiti", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run everything locally with embedded servers")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", type=Path, default=None)
    handset = commands.add_parser("phone", help="dial a server's USSD menu from the terminal")
    handset.add_argument("--url", default="http://127.0.0.1:8080", help="the Tikiti server")
    handset.add_argument("--msisdn", default="+263771000001", help="the phone's number")
    handset.add_argument("--code", default="*384*1234#", help="the USSD service code")
    handset.add_argument("--script", default=None, help="comma-separated inputs, sent unattended")
    handset.add_argument(
        "--token", default=os.environ.get("TIKITI_CALLBACK_TOKEN", ""),
        help="the server's callback token (default: $TIKITI_CALLBACK_TOKEN)",
    )  # fmt: skip
    answer = handset.add_mutually_exclusive_group()
    answer.add_argument("--pin", default=None, help="approve sandbox prompts with this PIN")
    answer.add_argument("--decline", action="store_true", help="decline sandbox prompts")
    serve = commands.add_parser("serve", help="serve HTTP (settings from TIKITI_* variables)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    commands.add_parser("worker", help="run background jobs")
    db = commands.add_parser("db", help="database schema")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="migrate to head"
    )
    seed = commands.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", required=True, help="the demo organizer")
    user = commands.add_parser("user", help="admin users")
    add = user.add_subparsers(dest="user_command", required=True).add_parser("add")
    add.add_argument("--organizer", required=True, help="the organizer's slug")
    add.add_argument("--email", required=True)
    add.add_argument("--name", default="")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    cli_payments.add_parser(commands)
    cli_gate.add_parser(commands)
    cli_agents.add_parser(commands)
    cli_telegram.add_parser(commands)
    cli_sales.add_parser(commands)
    dialog = commands.add_parser("dialog", help="the booking dialog")
    dialog.add_subparsers(dest="dialog_command", required=True).add_parser(
        "diagram", help="print docs/dialog.md (a Mermaid diagram of the machine)"
    )
    return parser


async def _seed_demo(settings: Settings) -> None:
    password = secrets.token_urlsafe(12)
    database = Database(make_engine(settings.database_url, pool_size=2))
    try:
        async with database.transaction() as session:
            seeded = await demo_data.seed(
                session, KeyBox(settings.secret_key), admin_password=password
            )
    finally:
        await database.dispose()
    if seeded is None:
        print("The demo organizer already exists; nothing changed.")
    else:
        print(f"Seeded {', '.join(seeded.event_codes)}; admin {seeded.admin_email} / {password}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise CommandError("the passwords differ")
    return first


async def _add_user(settings: Settings, args: argparse.Namespace, password: str) -> None:
    database = Database(make_engine(settings.database_url, pool_size=2))
    try:
        async with database.transaction() as session:
            organizer_id = await session.scalar(
                select(Organizer.id).where(Organizer.slug == args.organizer)
            )
            if organizer_id is None:
                raise CommandError(f"no organizer with slug {args.organizer!r}")
            user = await users.add_user(
                session,
                organizer_id=organizer_id,
                email=args.email,
                name=args.name or args.email,
                role=Role(args.role),
                password=password,
                actor="cli",
            )
    finally:
        await database.dispose()
    print(f"Added {user.email} ({user.role.value}) to {args.organizer}.")


async def _worker(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await worker.main(settings, stop)


def serving_loop() -> asyncio.AbstractEventLoop:
    """The event loop `serve` runs on (and bench.ussd's servers, so the figures are this one's):
    uvloop's transports, timers and callbacks are C, which saves a tenth of a USSD hop's CPU."""
    return uvloop.new_event_loop()


YOUNG_GC_THRESHOLD = 10_000  # allocations between young collections; Python's default is 700


def tune_gc_after_startup(app: web.Application) -> None:
    """Once the app has started, set the cyclic garbage collector up for serving."""
    app.on_startup.append(_tune_gc)


async def _tune_gc(app: web.Application) -> None:
    # Modules, the app, the machine and the pools live as long as the process: about 140,000
    # objects that every full collection would walk again, a 100 ms pause in the middle of
    # whatever hops are running. Frozen, they are never collected (they never were garbage).
    gc.collect()
    gc.freeze()
    # The young generation always holds the suspended coroutines and frames of the requests in
    # flight, thousands of objects, whoever triggers it; walking them every 700 allocations
    # took a few per cent of the CPU to find almost no garbage. Cycles still get collected.
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def _serve(settings: Settings) -> None:
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:
        # transitions logs two INFO lines for every state change, so on every conversation
        # step: noise in the log, and CPU on every hop that bench.ussd does not measure.
        logging.getLogger("transitions").setLevel(logging.WARNING)
    app = create_app(settings)
    tune_gc_after_startup(app)
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, loop=serving_loop())


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from tikiti import demo  # imported late: it needs the `embedded` extra

        demo.run(args.data_dir or default_data_dir(), args.host, args.port)
        return 0
    if args.command == "phone":
        return phone.run(
            args.url, args.msisdn, args.code, script=args.script, pin=args.pin,
            decline=args.decline, token=args.token,
        )  # fmt: skip
    if args.command == "dialog":
        print(diagram.markdown(), end="")
        return 0
    settings = load_settings()
    logging.getLogger().setLevel(settings.log_level)
    if args.command == "serve":
        settings = settings.with_overrides(
            host=args.host or settings.host, port=args.port or settings.port
        )
        _serve(settings)
    elif args.command == "worker":
        asyncio.run(_worker(settings))
    elif args.command == "db":
        asyncio.run(schema.upgrade(settings.database_url))
        print("The database schema is up to date.")
    elif args.command == "seed":
        asyncio.run(_seed_demo(settings))
    elif args.command == "payments":
        return asyncio.run(cli_payments.run(settings, args))
    elif args.command == "gate":
        return asyncio.run(cli_gate.run(settings, args))
    elif args.command == "agent":
        return asyncio.run(cli_agents.run(settings, args))
    elif args.command == "telegram":
        return asyncio.run(cli_telegram.run(settings, args))
    elif args.command in ("reseller", "promo"):
        return asyncio.run(cli_sales.run(settings, args))
    elif args.command == "user":
        asyncio.run(_add_user(settings, args, _read_password(args.password_stdin)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The embedded server library logs every command it runs; keep only its warnings.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        return _dispatch(args)
    except (SettingsError, CommandError, CoreError) as error:
        print(f"tikiti: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
