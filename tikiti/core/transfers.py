"""Passing a ticket to another phone: asked for, confirmed with a one-time code sent to the
holder, then done in one conditional UPDATE that gives the ticket a new code and version.

The old code and QR stop working in that same statement; a check-in racing it either lands
first (and the transfer is refused: a used ticket cannot be passed on) or finds the code gone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit, notices, outbox, pins
from tikiti.core.codes import format_code, new_code
from tikiti.core.errors import CoreError
from tikiti.core.models import Event, Order, Seat, Ticket, TicketStatus, TicketTransfer, Tier

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 3
CHAT_CHANNELS = ("sms", "whatsapp", "telegram")


class Refusal(enum.StrEnum):
    NOT_HOLDER = "not_holder"
    NOT_ALLOWED = "not_allowed"
    TOO_LATE = "too_late"
    TOO_MANY = "too_many"
    USED = "used"
    NOT_VALID = "not_valid"
    SAME_PHONE = "same_phone"
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"


class TransferRefused(CoreError):
    code = "transfer_refused"

    def __init__(self, reason: Refusal, *, tries_left: int = 0) -> None:
        super().__init__(reason.value, reason=reason.value)
        self.reason = reason
        self.tries_left = tries_left


@dataclass(frozen=True, slots=True)
class Done:
    ticket_id: int
    to_phone: str
    code: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A code typed wrong, or a transfer gone stale: returned, not raised, so the caller's
    transaction keeps the count of tries (a raise would roll it back)."""

    reason: Refusal
    tries_left: int = 0


async def request(
    session: AsyncSession,
    *,
    ticket_id: int,
    holder_phone: str,
    to_phone: str,
    channel: str,
    language: str,
    now: datetime,
) -> int:
    """Check the rules and send the holder a one-time code; returns the pending transfer."""
    ticket, event = await _locked(session, ticket_id)
    if ticket.holder_phone != holder_phone:
        raise TransferRefused(Refusal.NOT_HOLDER)
    if to_phone == holder_phone:
        raise TransferRefused(Refusal.SAME_PHONE)
    await _check_rules(session, ticket, event, now)
    await session.execute(
        update(TicketTransfer)
        .where(TicketTransfer.ticket_id == ticket_id, TicketTransfer.status == "pending")
        .values(status="cancelled")
    )
    one_time = pins.new_pin()
    transfer = TicketTransfer(
        ticket_id=ticket_id,
        from_phone=holder_phone,
        to_phone=to_phone,
        old_version=ticket.version,
        otp_hash=pins.hash_pin(one_time),
        channel=channel,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(transfer)
    await session.flush()
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="transfer_code",
            channel="sms",
            address=holder_phone,
            language=language,
            body=notices.transfer_code_sms(
                language, code=one_time, ticket=format_code(ticket.code), to_phone=to_phone
            ),
            dedupe_key=f"transfer_code:{transfer.id}",
            organizer_id=event.organizer_id,
            order_id=ticket.order_id,
            ticket_id=ticket.id,
        ),
    )
    return transfer.id


async def confirm(
    session: AsyncSession,
    *,
    transfer_id: int,
    holder_phone: str,
    one_time: str,
    now: datetime,
) -> Done | Refused:
    """Done, or why not; raises TransferRefused only where nothing was changed (the rules,
    or a check-in that got there first)."""
    transfer = await session.scalar(
        select(TicketTransfer).where(TicketTransfer.id == transfer_id).with_for_update()
    )
    if transfer is None or transfer.from_phone != holder_phone or transfer.status != "pending":
        return Refused(Refusal.EXPIRED)
    if transfer.expires_at <= now:
        transfer.status = "expired"
        return Refused(Refusal.EXPIRED)
    if not await pins.matches(transfer.otp_hash, one_time):
        transfer.attempts += 1
        if transfer.attempts >= MAX_ATTEMPTS:
            transfer.status = "cancelled"
            return Refused(Refusal.EXPIRED)
        return Refused(Refusal.WRONG_CODE, tries_left=MAX_ATTEMPTS - transfer.attempts)
    ticket, event = await _locked(session, transfer.ticket_id)
    await _check_rules(session, ticket, event, now)
    code = await _reissue(session, ticket, transfer)
    transfer.status, transfer.done_at = "done", now
    await _announce(session, ticket, event, transfer, code)
    await audit.record(
        session,
        organizer_id=event.organizer_id,
        actor=f"buyer:{holder_phone}",
        action="ticket.transferred",
        entity="ticket",
        entity_id=ticket.id,
        data={"from": transfer.from_phone, "to": transfer.to_phone},
    )
    return Done(ticket.id, transfer.to_phone, code)


_REISSUE = text(
    """
    UPDATE tickets SET code = :code, version = version + 1, holder_phone = :to_phone
     WHERE id = :id AND status = 'valid' AND checked_in_at IS NULL
       AND holder_phone = :from_phone AND version = :version
    RETURNING version
    """
)


async def _reissue(session: AsyncSession, ticket: Ticket, transfer: TicketTransfer) -> str:
    """The one statement that moves the ticket: nothing else may have changed it meanwhile."""
    for _ in range(5):
        code = new_code()
        taken = await session.scalar(select(func.count()).where(Ticket.code == code))
        if taken:
            continue
        version = await session.scalar(
            _REISSUE,
            {
                "code": code,
                "to_phone": transfer.to_phone,
                "id": ticket.id,
                "from_phone": transfer.from_phone,
                "version": transfer.old_version,
            },
        )
        if version is None:
            raise TransferRefused(Refusal.USED)
        await session.refresh(ticket)
        return code
    raise RuntimeError("could not find a free ticket code")


async def _announce(
    session: AsyncSession, ticket: Ticket, event: Event, transfer: TicketTransfer, code: str
) -> None:
    """The new holder gets the ticket on the channel they last wrote to us on (SMS if none);
    the old holder is told it has gone."""
    channel, language = await _reach(session, transfer.to_phone)
    tier = await session.scalar(select(Tier.name).where(Tier.id == ticket.tier_id))
    seat = None
    if ticket.seat_id is not None:
        row = (
            await session.execute(
                select(Seat.row_label, Seat.number).where(Seat.id == ticket.seat_id)
            )
        ).one()
        seat = f"{row.row_label}{row.number}"
    body = notices.ticket_sms(
        language,
        event_name=event.name,
        starts_at=event.starts_at,
        timezone=event.timezone,
        tier_name=str(tier),
        code=code,
        seat=seat,
        watch_devices=event.watch_devices if event.stream_url else None,
    )
    for message in (
        outbox.Message(
            kind="ticket",
            channel=channel,
            address=transfer.to_phone,
            language=language,
            body=body,
            dedupe_key=f"ticket:{ticket.id}:{ticket.version}",
            organizer_id=event.organizer_id,
            order_id=ticket.order_id,
            ticket_id=ticket.id,
        ),
        outbox.Message(
            kind="reply",
            channel="sms",
            address=transfer.from_phone,
            language=language,
            body=notices.transferred_sms(
                language, event_name=event.name, to_phone=transfer.to_phone
            ),
            dedupe_key=f"transferred:{transfer.id}",
            organizer_id=event.organizer_id,
            order_id=ticket.order_id,
        ),
    ):
        await outbox.enqueue(session, message)


async def _reach(session: AsyncSession, phone: str) -> tuple[str, str]:
    row = (
        await session.execute(
            select(Order.channel, Order.language)
            .where(Order.buyer_phone == phone, Order.channel.in_(CHAT_CHANNELS))
            .order_by(Order.created_at.desc())
            .limit(1)
        )
    ).one_or_none()
    language = await session.scalar(
        text("SELECT language FROM buyers WHERE phone = :p"), {"p": phone}
    )
    if row is None:
        return "sms", str(language or "en")
    return str(row.channel), str(language or row.language)


async def _locked(session: AsyncSession, ticket_id: int) -> tuple[Ticket, Event]:
    row = (
        await session.execute(
            select(Ticket, Event)
            .join(Event, Event.id == Ticket.event_id)
            .where(Ticket.id == ticket_id)
            .with_for_update(of=Ticket)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise TransferRefused(Refusal.NOT_HOLDER)
    return row.Ticket, row.Event


async def _check_rules(session: AsyncSession, ticket: Ticket, event: Event, now: datetime) -> None:
    if ticket.status != TicketStatus.VALID:
        raise TransferRefused(Refusal.NOT_VALID)
    if ticket.checked_in_at is not None:
        raise TransferRefused(Refusal.USED)
    if not event.transfers_allowed:
        raise TransferRefused(Refusal.NOT_ALLOWED)
    cutoff = (event.doors_open_at or event.starts_at) - timedelta(
        minutes=event.transfer_cutoff_minutes
    )
    if now >= cutoff:
        raise TransferRefused(Refusal.TOO_LATE)
    done = await session.scalar(
        select(func.count())
        .select_from(TicketTransfer)
        .where(TicketTransfer.ticket_id == ticket.id, TicketTransfer.status == "done")
    )
    if (done or 0) >= event.max_transfers:
        raise TransferRefused(Refusal.TOO_MANY)


@dataclass(frozen=True, slots=True)
class Link:
    from_phone: str
    to_phone: str
    at: datetime


async def chain(session: AsyncSession, ticket_id: int) -> list[Link]:
    """Every holder in order, for the order's story in the admin."""
    rows = await session.scalars(
        select(TicketTransfer)
        .where(TicketTransfer.ticket_id == ticket_id, TicketTransfer.status == "done")
        .order_by(TicketTransfer.done_at)
    )
    return [Link(t.from_phone, t.to_phone, t.done_at or t.created_at) for t in rows]
