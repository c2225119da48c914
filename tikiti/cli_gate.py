"""`tikiti gate …`: issue and revoke the tokens that gate scanners present."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from tikiti.config import Settings
from tikiti.core import gate
from tikiti.core.db import Database, make_engine
from tikiti.core.errors import NotFound
from tikiti.core.models import Event, GateToken


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("gate", help="gate scanner tokens")
    sub = parser.add_subparsers(dest="gate_command", required=True)
    token = sub.add_parser("token", help="issue a scanner token (printed once, never stored)")
    token.add_argument("--event", required=True, help="the event's code, e.g. ZIMFEST")
    token.add_argument("--gate", required=True, help="the gate's name, e.g. B")
    token.add_argument("--label", default="", help="who or which device holds it")
    revoke = sub.add_parser("revoke", help="stop a scanner token at once")
    revoke.add_argument("--id", dest="token_id", type=int, required=True, help="the token's id")


async def _issue(database: Database, args: argparse.Namespace) -> None:
    async with database.transaction() as session:
        event = (
            await session.execute(
                select(Event.id, Event.organizer_id).where(Event.code == args.event.upper())
            )
        ).one_or_none()
        if event is None:
            raise NotFound(f"no event with code {args.event!r}")
        token = await gate.issue_token(
            session, event.organizer_id, event.id, args.gate, args.label, actor="cli"
        )
        access = await gate.authenticate(session, token)
    assert access is not None
    # The token alone on stdout, so `TOKEN=$(tikiti gate token …)` works; the note on stderr.
    print(token)
    print(
        f"gate token {access.token_id} for {args.event.upper()}, gate {access.gate}: shown only"
        f" now, keep it like a password; revoke with `tikiti gate revoke --id {access.token_id}`",
        file=sys.stderr,
    )


async def _revoke(database: Database, args: argparse.Namespace) -> None:
    async with database.transaction() as session:
        organizer_id = await session.scalar(
            select(GateToken.organizer_id).where(GateToken.id == args.token_id)
        )
        revoked = organizer_id is not None and await gate.revoke_token(
            session, args.token_id, organizer_id=organizer_id, actor="cli"
        )
    if not revoked:
        raise NotFound(f"no live gate token with id {args.token_id}")
    print(f"Revoked gate token {args.token_id}.")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(make_engine(settings.database_url, pool_size=1))
    try:
        if args.gate_command == "token":
            await _issue(database, args)
        else:
            await _revoke(database, args)
    finally:
        await database.dispose()
    return 0
