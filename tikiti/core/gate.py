"""Gate scanners' access: bearer tokens kept only as hashes, the offline bundle, the conflicts."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import (
    Event,
    EventStatus,
    GateConflict,
    GateSalt,
    GateToken,
    Ticket,
    TicketStatus,
)
from tikiti.core.offline import BUNDLE_FORMAT, code_hash

TOKEN_PREFIX = "gt_"  # noqa: S105 — a marker that says what the token is, not a secret
MAX_TOKEN_LENGTH = 100
MAX_GATE = 40
MAX_LABEL = 100
SALT_BYTES = 16
# Doors open hours before the headline time and staff try their scanners earlier still; a
# ticket scanned before doors-open (or the start, when no doors time is set) minus this grace
# is refused as not yet valid, which catches a gate pointed at the wrong date.
ADMIT_GRACE = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class GateAccess:
    """What a presented token allows: scanning for one event, by default at one gate."""

    token_id: int
    organizer_id: int
    event_id: int
    gate: str
    public_key: bytes
    admit_from: datetime
    event_cancelled: bool


@dataclass(frozen=True, slots=True)
class Conflict:
    ticket_id: int
    code: str
    first_gate: str
    first_at: datetime
    second_gate: str
    second_at: datetime
    detected_at: datetime


def token_hash(token: str) -> bytes:
    """Only this is stored, so a database dump lets nobody scan."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def clean_gate(gate: str) -> str:
    name = gate.strip()
    if not 1 <= len(name) <= MAX_GATE:
        raise InvalidInput(f"a gate name is 1 to {MAX_GATE} characters", field="gate")
    return name


def admit_from(starts_at: datetime, doors_open_at: datetime | None) -> datetime:
    return (doors_open_at or starts_at) - ADMIT_GRACE


async def _audit(session: AsyncSession, token: GateToken, actor: str, action: str) -> None:
    await audit.record(
        session,
        organizer_id=token.organizer_id,
        actor=actor,
        action=action,
        entity="gate_token",
        entity_id=token.id,
        data={"event_id": token.event_id, "gate": token.gate, "label": token.label},
    )


async def _check_owner(session: AsyncSession, organizer_id: int, event_id: int) -> None:
    owner = await session.scalar(select(Event.organizer_id).where(Event.id == event_id))
    if owner is None or owner != organizer_id:
        raise NotFound("no such event for this organizer", event_id=event_id)


async def issue_token(
    session: AsyncSession,
    organizer_id: int,
    event_id: int,
    gate: str,
    label: str = "",
    *,
    actor: str = "system",
) -> str:
    """A new scanner token; the plain text is returned this once and never stored."""
    await _check_owner(session, organizer_id, event_id)
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"a label is at most {MAX_LABEL} characters", field="label")
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    row = GateToken(
        organizer_id=organizer_id,
        event_id=event_id,
        gate=clean_gate(gate),
        token_hash=token_hash(token),
        label=label.strip(),
    )
    session.add(row)
    await session.flush()
    await _audit(session, row, actor, "gate_token.issued")
    return token


# Plain SQL: every scan authenticates, and this skips the ORM's per-statement work.
_ACCESS = text(
    """
    SELECT g.id, g.organizer_id, g.event_id, g.gate,
           e.public_key, e.starts_at, e.doors_open_at, e.status
      FROM gate_tokens g JOIN events e ON e.id = g.event_id
     WHERE g.token_hash = :token_hash AND g.revoked_at IS NULL
    """
)


async def authenticate(session: AsyncSession, token: str) -> GateAccess | None:
    """The access a token grants, or None for an unknown or revoked one."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = (await session.execute(_ACCESS, {"token_hash": token_hash(token)})).one_or_none()
    if row is None:
        return None
    return GateAccess(
        token_id=row.id,
        organizer_id=row.organizer_id,
        event_id=row.event_id,
        gate=row.gate,
        public_key=row.public_key,
        admit_from=admit_from(row.starts_at, row.doors_open_at),
        event_cancelled=row.status == EventStatus.CANCELLED,
    )


async def revoke_token(
    session: AsyncSession, token_id: int, *, organizer_id: int, actor: str
) -> bool:
    """Stop a lost or retired scanner at once; False when there was nothing live to revoke."""
    revoked = await session.scalar(
        update(GateToken)
        .where(
            GateToken.id == token_id,
            GateToken.organizer_id == organizer_id,
            GateToken.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
        .returning(GateToken)
    )
    if revoked is not None:
        await _audit(session, revoked, actor, "gate_token.revoked")
    return revoked is not None


async def conflicts(session: AsyncSession, event_id: int) -> list[Conflict]:
    """Tickets let in twice while gates were offline, newest first, for the organizer."""
    rows = await session.execute(
        select(
            GateConflict.ticket_id,
            Ticket.code,
            GateConflict.first_gate,
            GateConflict.first_at,
            GateConflict.second_gate,
            GateConflict.second_at,
            GateConflict.detected_at,
        )
        .join(Ticket, Ticket.id == GateConflict.ticket_id)
        .where(GateConflict.event_id == event_id)
        .order_by(GateConflict.detected_at.desc(), GateConflict.id.desc())
    )
    return [Conflict(*row) for row in rows]


async def _salt(session: AsyncSession, event_id: int) -> bytes:
    """One random salt per event, made on first use; concurrent first uses agree on one."""
    await session.execute(
        insert(GateSalt)
        .values(event_id=event_id, salt=secrets.token_bytes(SALT_BYTES))
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return await session.scalar(select(GateSalt.salt).where(GateSalt.event_id == event_id)) or b""


@dataclass
class _Snapshot:
    codes: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    revoked: set[int] = field(default_factory=set)
    used_ids: set[int] = field(default_factory=set)
    min_versions: dict[str, int] = field(default_factory=dict)


async def _snapshot(session: AsyncSession, event_id: int, salt: bytes) -> _Snapshot:
    snapshot = _Snapshot()
    rows = await session.execute(
        select(Ticket.id, Ticket.code, Ticket.status, Ticket.version, Ticket.checked_in_at).where(
            Ticket.event_id == event_id
        )
    )
    for ticket_id, code, status, version, checked_in_at in rows:
        if status != TicketStatus.VALID:
            snapshot.revoked.add(ticket_id)
            continue
        snapshot.codes.add(code_hash(salt, code))
        if checked_in_at is not None:
            snapshot.used.add(code_hash(salt, code))
            snapshot.used_ids.add(ticket_id)
        if version > 1:
            snapshot.min_versions[str(ticket_id)] = version
    return snapshot


def _event_json(event: Event) -> dict[str, object]:
    doors = event.doors_open_at
    return {
        "id": event.id,
        "code": event.code,
        "name": event.name,
        "starts_at": event.starts_at.isoformat(),
        "doors_open_at": doors.isoformat() if doors else None,
    }


async def build_bundle(
    session: AsyncSession, access: GateAccess, now: datetime
) -> dict[str, object]:
    """Everything a gate needs to admit offline, and nothing about the people holding tickets."""
    event = await session.get_one(Event, access.event_id)
    salt = await _salt(session, event.id)
    snapshot = await _snapshot(session, event.id, salt)
    return {
        "format": BUNDLE_FORMAT,
        "event": _event_json(event),
        "gate": access.gate,
        "admit_from": access.admit_from.isoformat(),
        "public_key": event.public_key.hex(),
        "salt": salt.hex(),
        # Sorted, so the order of the hashes says nothing about which ticket is which.
        "codes": sorted(snapshot.codes),
        "used": sorted(snapshot.used),
        "revoked": sorted(snapshot.revoked),
        "used_ids": sorted(snapshot.used_ids),
        "min_versions": snapshot.min_versions,
        "generated_at": now.isoformat(),
    }
