"""Pay-per-view: a ticket's personal link opens the stream inside the event's window, on a
limited number of devices, so one bought ticket is not shared with a whole WhatsApp group."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.errors import CoreError
from tikiti.core.i18n import DEFAULT, translator
from tikiti.core.models import Event, EventStatus, Order, Ticket, TicketStatus, WatchDevice
from tikiti.core.notices import local_time

# Without a doors time, the stream opens a little before the start so buyers can test it.
EARLY_OPEN = timedelta(minutes=30)
MAX_USER_AGENT = 200


class Refusal(enum.StrEnum):
    NOT_FOUND = "not_found"  # unknown, reissued, refunded or cancelled ticket; no stream
    NOT_OPEN = "not_open"
    ENDED = "ended"
    CANCELLED = "cancelled"
    TOO_MANY_DEVICES = "too_many_devices"


class WatchRefused(CoreError):
    code = "watch_refused"

    def __init__(
        self,
        reason: Refusal,
        *,
        event_name: str = "",
        at: datetime | None = None,
        timezone: str = "UTC",
        devices: int = 0,
        language: str = DEFAULT,
    ) -> None:
        super().__init__(reason.value, reason=reason.value)
        self.reason = reason
        self.language = language
        self.event_name = event_name
        self.at = at  # when it opens, or when it closed
        self.timezone = timezone
        self.devices = devices


@dataclass(frozen=True, slots=True)
class Window:
    opens_at: datetime
    closes_at: datetime


def window(event: Event) -> Window:
    opens = event.doors_open_at or event.starts_at - EARLY_OPEN
    return Window(opens, event.watch_until or event.ends_at)


def device_hash(device_id: str) -> bytes:
    """The cookie itself is never stored: a database dump cannot be replayed as a device."""
    return hashlib.sha256(b"tikiti-device:" + device_id.encode()).digest()


_SEEN_AGAIN = text(
    "UPDATE watch_devices SET last_seen = :now"
    " WHERE ticket_id = :ticket_id AND device_hash = :device RETURNING id"
)


async def admit(
    session: AsyncSession,
    *,
    ticket_id: int,
    version: int,
    device_id: str,
    user_agent: str,
    now: datetime,
) -> str:
    """The stream URL for this device, or WatchRefused saying why. The ticket row is locked,
    so two new devices opening the link at the same instant cannot both squeeze under the
    limit."""
    row = (
        await session.execute(
            select(Ticket.status, Ticket.version, Order.language, Event)
            .join(Event, Event.id == Ticket.event_id)
            .join(Order, Order.id == Ticket.order_id)
            .where(Ticket.id == ticket_id)
            .with_for_update(of=Ticket)
        )
    ).one_or_none()
    if row is None or row.status != TicketStatus.VALID or row.version != version:
        raise WatchRefused(Refusal.NOT_FOUND)
    event: Event = row.Event
    if not event.stream_url:
        raise WatchRefused(Refusal.NOT_FOUND, language=row.language)
    _check_time(event, now, row.language)
    await _register(
        session, event, ticket_id, device_hash(device_id), user_agent, now, row.language
    )
    return event.stream_url


def _check_time(event: Event, now: datetime, language: str) -> None:
    span = window(event)
    reason: Refusal | None = None
    at: datetime | None = None
    if event.status == EventStatus.CANCELLED:
        reason = Refusal.CANCELLED
    elif now < span.opens_at:
        reason, at = Refusal.NOT_OPEN, span.opens_at
    elif now >= span.closes_at:
        reason, at = Refusal.ENDED, span.closes_at
    if reason is not None:
        raise WatchRefused(
            reason, event_name=event.name, at=at, timezone=event.timezone, language=language
        )


async def _register(
    session: AsyncSession,
    event: Event,
    ticket_id: int,
    device: bytes,
    agent: str,
    now: datetime,
    language: str,
) -> None:
    params = {"now": now, "ticket_id": ticket_id, "device": device}
    if await session.scalar(_SEEN_AGAIN, params) is not None:
        return
    known = await session.scalar(
        select(func.count()).select_from(WatchDevice).where(WatchDevice.ticket_id == ticket_id)
    )
    if (known or 0) >= event.watch_devices:
        raise WatchRefused(
            Refusal.TOO_MANY_DEVICES,
            event_name=event.name,
            devices=event.watch_devices,
            language=language,
        )
    session.add(
        WatchDevice(
            ticket_id=ticket_id,
            device_hash=device,
            user_agent=agent[:MAX_USER_AGENT],
            first_seen=now,
            last_seen=now,
        )
    )
    await session.flush()


async def devices(session: AsyncSession, ticket_id: int) -> int:
    """How many devices a ticket has been watched on, for the order's story in the admin."""
    found = await session.scalar(
        select(func.count()).select_from(WatchDevice).where(WatchDevice.ticket_id == ticket_id)
    )
    return int(found or 0)


def _(language: str, message: str) -> str:
    return translator(language).gettext(message)


def explain(refusal: WatchRefused) -> str:
    """What the buyer reads instead of the stream, in the language they bought in."""
    lang = refusal.language
    when = (
        local_time(refusal.at, refusal.timezone, refusal.language) if refusal.at is not None else ""
    )
    event = refusal.event_name[:60]
    match refusal.reason:
        case Refusal.NOT_OPEN:
            return _(lang, "{event} opens here at {when}. Please come back then.").format(
                event=event, when=when
            )
        case Refusal.ENDED:
            return _(lang, "{event} can no longer be watched: it closed at {when}.").format(
                event=event, when=when
            )
        case Refusal.CANCELLED:
            return _(lang, "{event} was cancelled. Your ticket will be refunded.").format(
                event=event
            )
        case Refusal.TOO_MANY_DEVICES:
            return _(
                lang,
                "This ticket is already being watched on {devices} devices, the most it allows.",
            ).format(devices=refusal.devices)
    return _(lang, "This link is not valid. Its ticket may have been refunded or replaced.")
