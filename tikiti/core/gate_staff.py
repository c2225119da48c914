"""Gate staff without a smartphone: a registered phone, a PIN, then ticket codes by USSD.

The phone number comes from the mobile network, so it identifies the phone; the PIN says the
person holding it is the one the organizer registered. After a right PIN the phone is trusted
for a few minutes, so a USSD session that times out between two fans costs no second PIN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, checkin, gate, outbox, pins
from tikiti.core.checkin import Result, Scan
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Event, GateStaff
from tikiti.core.phones import normalize_phone

TRUST_FOR = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Post:
    """Where a staff phone works: one gate of the nearest event it is registered for."""

    staff_id: int
    event_id: int
    event_name: str
    gate: str
    timezone: str
    trusted: bool


async def add(
    session: AsyncSession,
    *,
    organizer_id: int,
    event_id: int,
    gate_name: str,
    phone: str,
    name: str = "",
    actor: str,
) -> tuple[GateStaff, str]:
    """Register a phone for one gate; returns the row and its first PIN, which is also sent
    to the phone by SMS (the organizer may hand it over in person if the SMS is slow)."""
    event = await session.scalar(
        select(Event).where(Event.id == event_id, Event.organizer_id == organizer_id)
    )
    if event is None:
        raise NotFound("no such event for this organizer", event_id=event_id)
    number = normalize_phone(phone, event.country)
    pin = pins.new_pin()
    staff = GateStaff(
        organizer_id=organizer_id,
        event_id=event_id,
        gate=gate.clean_gate(gate_name),
        phone=number,
        name=name.strip()[:100],
        pin_hash=pins.hash_pin(pin),
    )
    try:
        async with session.begin_nested():
            session.add(staff)
            await session.flush()
    except IntegrityError as error:
        raise InvalidInput(
            f"{number} is already gate staff for this event", field="phone"
        ) from error
    await _audit(session, staff, actor, "gate_staff.added", {"gate": staff.gate})
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="gate_pin",
            channel="sms",
            address=number,
            language="en",
            body=f"Tikiti gate {staff.gate}, {event.name[:40]}: your PIN is {pin}. "
            "Dial the Tikiti code to check tickets.",
            dedupe_key=f"gate_pin:{staff.id}",
            organizer_id=organizer_id,
        ),
    )
    return staff, pin


async def revoke(session: AsyncSession, staff_id: int, *, organizer_id: int, actor: str) -> bool:
    staff = await session.scalar(
        select(GateStaff)
        .where(
            GateStaff.id == staff_id,
            GateStaff.organizer_id == organizer_id,
            GateStaff.revoked_at.is_(None),
        )
        .with_for_update()
    )
    if staff is None:
        return False
    staff.revoked_at = datetime.now(UTC)
    staff.trusted_until = None
    await _audit(session, staff, actor, "gate_staff.revoked", {})
    return True


async def try_pin(session: AsyncSession, staff_id: int, pin: str, now: datetime) -> pins.Attempt:
    """One typed PIN, counted with the row locked so parallel tries cannot skip the lock."""
    staff = await session.scalar(
        select(GateStaff)
        .where(GateStaff.id == staff_id, GateStaff.revoked_at.is_(None))
        .with_for_update()
    )
    if staff is None:
        return pins.Attempt(False)
    attempt, locked = await pins.attempt(staff, pin, now)
    if attempt.ok:
        staff.trusted_until = now + TRUST_FOR
    if locked:  # the organizer sees this in the audit log; a locked gate phone needs a person
        await _audit(session, staff, "ussd", "gate_staff.locked", {"until": now.isoformat()})
    return attempt


@dataclass(frozen=True, slots=True)
class Checked:
    scan: Scan
    tier: str = ""
    seat: str | None = None
    admit_from: datetime | None = None
    timezone: str = "UTC"


_STAFF = text(
    """
    SELECT g.event_id, g.gate, e.starts_at, e.doors_open_at, e.status, e.timezone
      FROM gate_staff g JOIN events e ON e.id = g.event_id
     WHERE g.id = :staff_id AND g.revoked_at IS NULL
    """
)

_TICKET = text(
    """
    SELECT t.name AS tier, s.row_label || s.number AS seat
      FROM tickets k JOIN tiers t ON t.id = k.tier_id LEFT JOIN seats s ON s.id = k.seat_id
     WHERE k.id = :ticket_id
    """
)


async def check(session: AsyncSession, staff_id: int, code: str, now: datetime) -> Checked | None:
    """Check one typed code in at the staff's gate; None if the staff was revoked meanwhile.
    Each scan also keeps the phone trusted, so a busy gate never has to type the PIN again."""
    post = (await session.execute(_STAFF, {"staff_id": staff_id})).one_or_none()
    if post is None:
        return None
    opens = gate.admit_from(post.starts_at, post.doors_open_at)
    if post.status == "cancelled":
        scan = await checkin.log(session, post.event_id, post.gate, now, Scan(Result.CANCELLED))
    elif now < opens:
        scan = await checkin.log(session, post.event_id, post.gate, now, Scan(Result.NOT_YET_VALID))
    else:
        scan = await checkin.check_in(
            session, event_id=post.event_id, code=code, gate=post.gate, now=now
        )
    await session.execute(
        update(GateStaff).where(GateStaff.id == staff_id).values(trusted_until=now + TRUST_FOR)
    )
    found = None
    if scan.ticket_id is not None and scan.result in (Result.ADMITTED, Result.ALREADY_USED):
        found = (await session.execute(_TICKET, {"ticket_id": scan.ticket_id})).one_or_none()
    return Checked(
        scan,
        tier=found.tier if found else "",
        seat=found.seat if found else None,
        admit_from=opens,
        timezone=post.timezone,
    )


async def _audit(
    session: AsyncSession, staff: GateStaff, actor: str, action: str, data: dict[str, object]
) -> None:
    await audit.record(
        session,
        organizer_id=staff.organizer_id,
        actor=actor,
        action=action,
        entity="gate_staff",
        entity_id=staff.id,
        data={"event_id": staff.event_id, "phone": staff.phone, **data},
    )
