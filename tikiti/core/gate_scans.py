"""One scan at a gate, answered once per nonce: which ticket, whether it may enter, the answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import checkin
from tikiti.core.checkin import ANY_VERSION, Result, Scan
from tikiti.core.codes import InvalidCode, parse
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput
from tikiti.core.gate import MAX_GATE, GateAccess
from tikiti.core.models import Event
from tikiti.core.signing import InvalidSignature, verify_payload

MAX_NONCE = 80
MAX_SCAN_TEXT = 200  # a QR payload is 4 + 151 characters; a typed code far fewer
MAX_SYNC_SCANS = 1000
FIELDS = frozenset({"nonce", "code", "qr", "gate", "scanned_at"})
# A QR that fails this event's key is tried against the organizer's newest other events, so
# last week's ticket says "wrong event" rather than "invalid"; a season's worth is plenty.
OTHER_EVENT_KEYS = 50

_CLAIM = text(
    """
    INSERT INTO gate_scans (organizer_id, nonce, token_id, event_id, answer)
    VALUES (:organizer_id, :nonce, :token_id, :event_id, '{}')
    ON CONFLICT (organizer_id, nonce) DO NOTHING
    RETURNING id
    """
)
_STORED = text(
    "SELECT answer, event_id FROM gate_scans WHERE organizer_id = :organizer_id AND nonce = :nonce"
)
_ANSWER = text("UPDATE gate_scans SET answer = :answer WHERE id = :id").bindparams(
    bindparam("answer", type_=JSONB)
)
_TICKET = text(
    """
    SELECT t.code, tr.name AS tier, s.row_label || s.number AS seat
      FROM tickets t
      JOIN tiers tr ON tr.id = t.tier_id
      LEFT JOIN seats s ON s.id = t.seat_id
     WHERE t.id = :ticket_id AND t.event_id = :event_id
    """
)


@dataclass(frozen=True, slots=True)
class ScanInput:
    """What a scanner sends: exactly one of `code` and `qr`; `scanned_at` only for a scan it
    already acted on while offline."""

    nonce: str
    code: str | None = None
    qr: str | None = None
    gate: str | None = None
    scanned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    code: str | None = None
    ticket_id: int | None = None
    version: int = ANY_VERSION


def _text(data: dict[str, object], name: str, limit: int, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInput(f'"{name}" is required', field=name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f'"{name}" must be a non-empty string', field=name)
    if len(value) > limit:
        raise InvalidInput(f'"{name}" is longer than {limit} characters', field=name)
    if not value.isprintable():  # NUL or a lone surrogate would fail in PostgreSQL, not here
        raise InvalidInput(f'"{name}" has a character that cannot be printed', field=name)
    return value.strip()


def _time(value: object) -> datetime | None:
    """In UTC; a device time without an offset is refused rather than guessed at."""
    if value is None:
        return None
    wrong = InvalidInput(
        '"scanned_at" must be an ISO-8601 time with an offset, e.g. "2026-05-01T18:55:00+02:00"',
        field="scanned_at",
    )
    if not isinstance(value, str):
        raise wrong
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise wrong
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise wrong from None


def parse_scan(data: object, *, require_time: bool = False) -> ScanInput:
    """A scan from a request body, or InvalidInput saying exactly what is wrong with it."""
    if not isinstance(data, dict):
        raise InvalidInput("a scan must be a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])
    nonce = _text(data, "nonce", MAX_NONCE, required=True)
    code, qr = _text(data, "code", MAX_SCAN_TEXT), _text(data, "qr", MAX_SCAN_TEXT)
    if (code is None) == (qr is None):
        raise InvalidInput('give exactly one of "code" and "qr"', field="code")
    scanned_at = _time(data.get("scanned_at"))
    if require_time and scanned_at is None:
        raise InvalidInput('"scanned_at" is required for a synced scan', field="scanned_at")
    gate = _text(data, "gate", MAX_GATE)
    return ScanInput(str(nonce), code, qr, gate, scanned_at)


def parse_batch(data: object) -> list[ScanInput]:
    """An offline upload: every scan is checked before any is applied."""
    scans = data.get("scans") if isinstance(data, dict) else None
    if not isinstance(scans, list):
        raise InvalidInput('the body must be {"scans": [...]}', field="scans")
    if len(scans) > MAX_SYNC_SCANS:
        raise InvalidInput(f"at most {MAX_SYNC_SCANS} scans per upload", field="scans")
    parsed = []
    for index, item in enumerate(scans):
        try:
            parsed.append(parse_scan(item, require_time=True))
        except InvalidInput as error:
            raise InvalidInput(f"scans[{index}]: {error}", field="scans") from None
    return parsed


async def answer_scan(
    session: AsyncSession, access: GateAccess, scan: ScanInput, *, now: datetime
) -> dict[str, object]:
    """The first answer given for this nonce; a new one is decided and stored in the
    transaction of its check-in, so a retry can neither admit twice nor change the answer."""
    key = {"organizer_id": access.organizer_id, "nonce": scan.nonce}
    claimed = await session.scalar(
        _CLAIM, {**key, "token_id": access.token_id, "event_id": access.event_id}
    )
    if claimed is None:  # a concurrent first attempt has committed by now: ours waited for it
        return await _stored(session, key, access.event_id)
    answer = await _answer(session, await _decide(session, access, scan, now), access.event_id)
    await session.execute(_ANSWER, {"answer": answer, "id": claimed})
    return answer


async def _stored(
    session: AsyncSession, key: dict[str, object], event_id: int
) -> dict[str, object]:
    answer, answered_for = (await session.execute(_STORED, key)).one()
    if answered_for != event_id:  # never show one event's answer to another event's gate
        raise InvalidInput("this nonce was already used for another event", field="nonce")
    return dict(answer)


async def sync_scans(
    db: Database, access: GateAccess, scans: list[ScanInput], *, now: datetime
) -> list[dict[str, object]]:
    """Each scan in its own transaction, earliest first, so a broken upload resumes where it
    stopped when retried; answers come back in the order the scans were sent."""
    answers: dict[int, dict[str, object]] = {}
    for index in sorted(range(len(scans)), key=lambda i: scans[i].scanned_at or now):
        try:
            async with db.transaction() as session:
                answer = await answer_scan(session, access, scans[index], now=now)
        except InvalidInput as error:  # this scan only: the others still count
            answer = {"error": str(error)}
        answers[index] = {"nonce": scans[index].nonce, **answer}
    return [answers[index] for index in range(len(scans))]


async def _decide(
    session: AsyncSession, access: GateAccess, scan: ScanInput, now: datetime
) -> Scan:
    gate = scan.gate or access.gate
    # A device clock ahead of ours must not date an admission in the future.
    at = min(scan.scanned_at, now) if scan.scanned_at else now
    target = await _target(session, access, scan)
    if isinstance(target, Scan):
        return await checkin.log(session, access.event_id, gate, at, target)
    refusal = _refusal_by_time(access, at, target)
    if refusal is not None:
        return await checkin.log(session, access.event_id, gate, at, refusal)
    return await _admit(session, access, target, gate, at, reported=scan.scanned_at is not None)


async def _admit(
    session: AsyncSession,
    access: GateAccess,
    target: _Target,
    gate: str,
    at: datetime,
    *,
    reported: bool,
) -> Scan:
    if reported:
        return await checkin.check_in_reported(
            session,
            access.event_id,
            gate,
            at,
            ticket_id=target.ticket_id,
            code=target.code,
            version=target.version,
        )
    if target.code is not None:
        return await checkin.check_in(
            session, event_id=access.event_id, code=target.code, gate=gate, now=at
        )
    assert target.ticket_id is not None
    return await checkin.check_in_ticket(
        session, access.event_id, target.ticket_id, gate, at, version=target.version
    )


def _refusal_by_time(access: GateAccess, at: datetime, target: _Target) -> Scan | None:
    if access.event_cancelled:
        return Scan(Result.CANCELLED, target.ticket_id, reason="this event was cancelled")
    if at < access.admit_from:
        opens = access.admit_from.isoformat(timespec="minutes")
        return Scan(Result.NOT_YET_VALID, target.ticket_id, reason=f"gates admit from {opens}")
    return None


async def _target(session: AsyncSession, access: GateAccess, scan: ScanInput) -> _Target | Scan:
    """The ticket a code or QR names, or the scan's refusal when it names none of this event's."""
    if scan.code is not None:
        try:
            return _Target(code=parse(scan.code))
        except InvalidCode as error:
            return Scan(Result.INVALID_CODE, reason=str(error))
    assert scan.qr is not None
    try:
        claim = verify_payload(access.public_key, scan.qr)
    except InvalidSignature as error:
        foreign = await _other_event(session, access, scan.qr)
        return foreign or Scan(Result.INVALID_CODE, reason=str(error))
    if claim.event_id != access.event_id:  # signed by this event's key: only if keys were reused
        return Scan(Result.WRONG_EVENT, reason="this ticket is for another event")
    return _Target(ticket_id=claim.ticket_id, version=claim.version)


async def _other_event(session: AsyncSession, access: GateAccess, qr: str) -> Scan | None:
    keys = await session.execute(
        select(Event.id, Event.public_key)
        .where(Event.organizer_id == access.organizer_id, Event.id != access.event_id)
        .order_by(Event.starts_at.desc())
        .limit(OTHER_EVENT_KEYS)
    )
    for event_id, public_key in keys:
        try:
            claim = verify_payload(public_key, qr)
        except InvalidSignature:
            continue
        if claim.event_id == event_id:
            return Scan(Result.WRONG_EVENT, reason="this ticket is for another event")
    return None


async def _answer(session: AsyncSession, scan: Scan, event_id: int) -> dict[str, object]:
    ticket = None
    if scan.ticket_id is not None:
        row = (
            await session.execute(_TICKET, {"ticket_id": scan.ticket_id, "event_id": event_id})
        ).one_or_none()
        ticket = dict(row._mapping) if row is not None else None
    return {
        "result": scan.result.value,
        "ticket": ticket,
        "checked_in_at": _iso(scan.checked_in_at),
        "gate": scan.gate,
        "reason": scan.reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
