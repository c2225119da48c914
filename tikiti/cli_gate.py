"""`tikiti gate …`: scanner tokens, and gate staff who check codes by USSD with a PIN."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.config import Settings
from tikiti.core import gate, gate_staff
from tikiti.core.db import Database, make_engine
from tikiti.core.errors import NotFound
from tikiti.core.models import Event, GateStaff, GateToken


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("gate", help="gate scanner tokens")
    sub = parser.add_subparsers(dest="gate_command", required=True)
    token = sub.add_parser("token", help="issue a scanner token (printed once, never stored)")
    token.add_argument("--event", required=True, help="the event's code, e.g. ZIMFEST")
    token.add_argument("--gate", required=True, help="the gate's name, e.g. B")
    token.add_argument("--label", default="", help="who or which device holds it")
    revoke = sub.add_parser("revoke", help="stop a scanner token at once")
    revoke.add_argument("--id", dest="token_id", type=int, required=True, help="the token's id")
    staff = sub.add_parser("staff", help="gate staff who check codes over USSD with a PIN")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="register a phone for a gate; its PIN goes by SMS")
    add.add_argument("--event", required=True, help="the event's code, e.g. ZIMFEST")
    add.add_argument("--gate", required=True, help="the gate's name, e.g. B")
    add.add_argument("--phone", required=True, help="the staff's mobile number")
    add.add_argument("--name", default="", help="who it is, for the audit log")
    listing = staff_sub.add_parser("list", help="the gate staff of an event")
    listing.add_argument("--event", required=True, help="the event's code")
    remove = staff_sub.add_parser("revoke", help="stop a staff phone at once")
    remove.add_argument("--id", dest="staff_id", type=int, required=True, help="the staff id")


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


async def _event(session: AsyncSession, code: str) -> Event:
    event = await session.scalar(select(Event).where(Event.code == code.upper()))
    if event is None:
        raise NotFound(f"no event with code {code!r}")
    return event


async def _staff(database: Database, args: argparse.Namespace) -> None:
    async with database.transaction() as session:
        if args.staff_command == "add":
            event = await _event(session, args.event)
            staff, pin = await gate_staff.add(
                session,
                organizer_id=event.organizer_id,
                event_id=event.id,
                gate_name=args.gate,
                phone=args.phone,
                name=args.name,
                actor="cli",
            )
            print(
                f"Gate staff {staff.id}: {staff.phone} at gate {staff.gate} of {event.code}. "
                f"PIN {pin} (also sent by SMS; shown only now)."
            )
        elif args.staff_command == "list":
            event = await _event(session, args.event)
            rows = await session.scalars(
                select(GateStaff)
                .where(GateStaff.event_id == event.id, GateStaff.revoked_at.is_(None))
                .order_by(GateStaff.gate, GateStaff.id)
            )
            for row in rows:
                locked = " (locked)" if row.locked_until else ""
                print(f"{row.id}\t{row.gate}\t{row.phone}\t{row.name}{locked}")
        else:
            organizer_id = await session.scalar(
                select(GateStaff.organizer_id).where(GateStaff.id == args.staff_id)
            )
            revoked = organizer_id is not None and await gate_staff.revoke(
                session, args.staff_id, organizer_id=organizer_id, actor="cli"
            )
            if not revoked:
                raise NotFound(f"no live gate staff with id {args.staff_id}")
            print(f"Revoked gate staff {args.staff_id}.")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    database = Database(make_engine(settings.database_url, pool_size=1))
    try:
        if args.gate_command == "token":
            await _issue(database, args)
        elif args.gate_command == "staff":
            await _staff(database, args)
        else:
            await _revoke(database, args)
    finally:
        await database.dispose()
    return 0
