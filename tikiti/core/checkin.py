"""Letting a ticket in exactly once: one atomic statement decides, every scan is logged."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.codes import InvalidCode, parse
from tikiti.core.models import CheckIn, Ticket, TicketStatus


class Result(enum.StrEnum):
    ADMITTED = "admitted"
    ALREADY_USED = "already_used"
    NOT_FOUND = "not_found"
    WRONG_EVENT = "wrong_event"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
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


async def _explain(session: AsyncSession, code: str, event_id: int) -> Scan:
    ticket = await session.scalar(select(Ticket).where(Ticket.code == code))
    if ticket is None:
        return Scan(Result.NOT_FOUND, reason="no ticket has this code")
    if ticket.event_id != event_id:
        return Scan(Result.WRONG_EVENT, ticket.id, reason="this ticket is for another event")
    if ticket.status == TicketStatus.REFUNDED:
        return Scan(Result.REFUNDED, ticket.id, reason="this ticket was refunded")
    if ticket.status == TicketStatus.CANCELLED:
        return Scan(Result.CANCELLED, ticket.id, reason="this ticket was cancelled")
    return Scan(
        Result.ALREADY_USED,
        ticket.id,
        ticket.checked_in_at,
        ticket.checked_in_gate,
        reason="this ticket was already used",
    )


async def check_in(
    session: AsyncSession, *, event_id: int, code: str, gate: str, now: datetime | None = None
) -> Scan:
    """Admit a ticket by its short code; a second scan says when and where it was used."""
    now = now or datetime.now(UTC)
    try:
        normalized = parse(code)
    except InvalidCode as error:
        return Scan(Result.INVALID_CODE, reason=str(error))
    ticket_id = await session.scalar(
        _ADMIT, {"now": now, "gate": gate, "code": normalized, "event_id": event_id}
    )
    scan = (
        Scan(Result.ADMITTED, int(ticket_id), now, gate)
        if ticket_id is not None
        else await _explain(session, normalized, event_id)
    )
    await session.execute(
        insert(CheckIn).values(
            ticket_id=scan.ticket_id, event_id=event_id, gate=gate, result=scan.result.value
        )
    )
    return scan
