"""Letting a ticket in exactly once: one atomic statement decides, every scan is logged."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.codes import InvalidCode, parse
from tikiti.core.models import GateConflict, Ticket, TicketStatus

# Code scans name no version; any version a ticket can have is at most this.
ANY_VERSION = 2**31 - 1


class Result(enum.StrEnum):
    ADMITTED = "admitted"
    ALREADY_USED = "already_used"
    NOT_FOUND = "not_found"
    WRONG_EVENT = "wrong_event"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    NOT_YET_VALID = "not_yet_valid"
    INVALID_CODE = "invalid_code"


@dataclass(frozen=True, slots=True)
class Scan:
    result: Result
    ticket_id: int | None = None
    checked_in_at: datetime | None = None
    gate: str | None = None
    reason: str = ""


_ADMIT = text(
    """
    UPDATE tickets SET checked_in_at = :now, checked_in_gate = :gate
     WHERE code = :code AND event_id = :event_id AND status = 'valid'
       AND checked_in_at IS NULL
    RETURNING id
    """
)

_ADMIT_TICKET = text(
    """
    UPDATE tickets SET checked_in_at = :now, checked_in_gate = :gate
     WHERE id = :ticket_id AND event_id = :event_id AND status = 'valid'
       AND checked_in_at IS NULL AND version <= :version
    RETURNING id
    """
)

_LOG = text(
    "INSERT INTO checkins (ticket_id, event_id, gate, result, scanned_at)"
    " VALUES (:ticket_id, :event_id, :gate, :result, :at)"
)


def explain(ticket: Ticket | None, event_id: int, version: int = ANY_VERSION) -> Scan:
    """Why a ticket was not admitted, read after the conditional UPDATE matched nothing."""
    if ticket is None:
        return Scan(Result.NOT_FOUND, reason="no ticket has this code")
    return _refusal(ticket, event_id, version) or _used(ticket)


def _refusal(ticket: Ticket, event_id: int, version: int) -> Scan | None:
    """What makes this ticket inadmissible here at any time; None for a valid one of this event."""
    if ticket.event_id != event_id:
        return Scan(Result.WRONG_EVENT, ticket.id, reason="this ticket is for another event")
    if ticket.version > version:
        return Scan(Result.INVALID_CODE, ticket.id, reason="replaced by a newer QR code")
    if ticket.status == TicketStatus.REFUNDED:
        return Scan(Result.REFUNDED, ticket.id, reason="this ticket was refunded")
    if ticket.status == TicketStatus.CANCELLED:
        return Scan(Result.CANCELLED, ticket.id, reason="this ticket was cancelled")
    return None


def _used(ticket: Ticket) -> Scan:
    return Scan(
        Result.ALREADY_USED,
        ticket.id,
        ticket.checked_in_at,
        ticket.checked_in_gate,
        reason="this ticket was already used",
    )


async def _current(
    session: AsyncSession, where: ColumnElement[bool], *, lock: bool = False
) -> Ticket | None:
    # populate_existing: a Ticket already in this session must not answer with stale columns.
    query = select(Ticket).where(where).execution_options(populate_existing=True)
    return await session.scalar(query.with_for_update() if lock else query)


async def log(session: AsyncSession, event_id: int, gate: str, at: datetime, scan: Scan) -> Scan:
    """Every scan leaves a row, whatever its result: the story of a ticket at the door."""
    await session.execute(
        _LOG,
        {
            "ticket_id": scan.ticket_id,
            "event_id": event_id,
            "gate": gate,
            "result": scan.result.value,
            "at": at,
        },
    )
    return scan


async def check_in(
    session: AsyncSession, *, event_id: int, code: str, gate: str, now: datetime | None = None
) -> Scan:
    """Admit a ticket by its short code; a second scan says when and where it was used."""
    now = now or datetime.now(UTC)
    try:
        normalized = parse(code)
    except InvalidCode as error:
        return await log(session, event_id, gate, now, Scan(Result.INVALID_CODE, reason=str(error)))
    ticket_id = await session.scalar(
        _ADMIT, {"now": now, "gate": gate, "code": normalized, "event_id": event_id}
    )
    scan = (
        Scan(Result.ADMITTED, int(ticket_id), now, gate)
        if ticket_id is not None
        else explain(await _current(session, Ticket.code == normalized), event_id)
    )
    return await log(session, event_id, gate, now, scan)


async def check_in_ticket(
    session: AsyncSession,
    event_id: int,
    ticket_id: int,
    gate: str,
    now: datetime | None = None,
    *,
    version: int = ANY_VERSION,
) -> Scan:
    """Admit the ticket a verified QR claim names; an older `version` than the ticket's is void."""
    now = now or datetime.now(UTC)
    params = {"now": now, "gate": gate, "ticket_id": ticket_id, "event_id": event_id}
    admitted = await session.scalar(_ADMIT_TICKET, {**params, "version": version})
    scan = (
        Scan(Result.ADMITTED, ticket_id, now, gate)
        if admitted is not None
        else explain(await _current(session, Ticket.id == ticket_id), event_id, version)
    )
    return await log(session, event_id, gate, now, scan)


async def check_in_reported(
    session: AsyncSession,
    event_id: int,
    gate: str,
    at: datetime,
    *,
    ticket_id: int | None = None,
    code: str | None = None,
    version: int = ANY_VERSION,
) -> Scan:
    """Record an admission a gate already made offline: the earliest keeps the ticket, and a
    second admission of it is a conflict for the organizer to look at."""
    where = Ticket.id == ticket_id if ticket_id is not None else Ticket.code == code
    ticket = await _current(session, where, lock=True)
    if ticket is None:
        scan = explain(ticket, event_id)
    else:
        scan = _refusal(ticket, event_id, version) or await _admit_reported(
            session, ticket, gate, at
        )
    return await log(session, event_id, gate, at, scan)


async def _admit_reported(session: AsyncSession, ticket: Ticket, gate: str, at: datetime) -> Scan:
    """The ticket row is locked; the earlier of its admission and this one is kept."""
    first_at, first_gate = ticket.checked_in_at, ticket.checked_in_gate
    if first_at is None or first_gate is None:
        return await _admit_at(session, ticket, gate, at)
    if (first_at, first_gate) == (at, gate):  # the same admission reported under a new nonce
        return _used(ticket)
    if first_at <= at:
        await _conflict(session, ticket, (first_gate, first_at), (gate, at))
        return _used(ticket)
    await _conflict(session, ticket, (gate, at), (first_gate, first_at))
    return await _admit_at(
        session, ticket, gate, at, f"also admitted later at gate {first_gate}: a conflict"
    )


async def _admit_at(
    session: AsyncSession, ticket: Ticket, gate: str, at: datetime, reason: str = ""
) -> Scan:
    ticket.checked_in_at, ticket.checked_in_gate = at, gate
    await session.flush()
    return Scan(Result.ADMITTED, ticket.id, at, gate, reason)


async def _conflict(
    session: AsyncSession,
    ticket: Ticket,
    first: tuple[str, datetime],
    second: tuple[str, datetime],
) -> None:
    await session.execute(
        insert(GateConflict).values(
            ticket_id=ticket.id,
            event_id=ticket.event_id,
            first_gate=first[0],
            first_at=first[1],
            second_gate=second[0],
            second_at=second[1],
        )
    )
