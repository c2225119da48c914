"""Texts that core writes to the outbox, rendered in the buyer's language (gettext catalogs)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from tikiti.core.codes import format_code
from tikiti.core.i18n import translator
from tikiti.core.links import WATCH_MARK


def _(language: str, message: str) -> str:
    return translator(language).gettext(message)


def local_time(moment: datetime, timezone: str, language: str = "en") -> str:
    """Short date in the buyer's language and the event's time zone, e.g. 'Sat 12 Dec 18:00'."""
    text = format_datetime(moment, "EEE d MMM HH:mm", tzinfo=ZoneInfo(timezone), locale=language)
    return (
        text if text.isascii() else moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %H:%M")
    )


def ticket_sms(
    language: str,
    *,
    event_name: str,
    starts_at: datetime,
    timezone: str,
    tier_name: str,
    code: str,
    seat: str | None,
    watch_devices: int | None = None,
) -> str:
    """The ticket itself; for a pay-per-view event (`watch_devices` set) it carries the
    personal stream link, filled in when the message is sent."""
    if watch_devices is not None:
        return _(
            language, "{event} {when}. Watch on up to {devices} devices: {link} Ticket code: {code}"
        ).format(
            event=event_name[:40],
            when=local_time(starts_at, timezone, language),
            devices=watch_devices,
            link=WATCH_MARK,
            code=format_code(code),
        )
    seat_text = _(language, "Seat {seat}. ").format(seat=seat) if seat else ""
    return _(
        language, "{event} {when}, {tier}. {seat}Ticket code: {code}. Show it at the gate."
    ).format(
        event=event_name[:40],
        when=local_time(starts_at, timezone, language),
        tier=tier_name,
        seat=seat_text,
        code=format_code(code),
    )


def refund_due_sms(language: str, *, event_name: str, reference: str) -> str:
    return _(
        language,
        "Sorry, {event} sold out before your payment arrived. Order {reference} will be refunded.",
    ).format(event=event_name[:40], reference=reference)


def payment_failed_sms(language: str, *, event_name: str, reference: str) -> str:
    return _(
        language,
        "Your payment for {event} (order {reference}) did not complete and your places were "
        "released. If money left your account, it will be refunded. You can try again.",
    ).format(event=event_name[:40], reference=reference)


def duplicate_payment_sms(language: str, *, event_name: str, reference: str) -> str:
    return _(
        language,
        "Order {reference} for {event} was already paid. Your extra payment will be refunded.",
    ).format(event=event_name[:40], reference=reference)


def reminder_sms(
    language: str,
    *,
    event_name: str,
    starts_at: datetime,
    doors_open_at: datetime | None,
    timezone: str,
    venue: str,
    tickets: int,
) -> str:
    doors = local_time(doors_open_at or starts_at, timezone, language)
    return _(
        language,
        "Reminder: {event}, {when}, {venue}. Gates open {doors}. "
        "Bring your {tickets} ticket code(s) from your SMS.",
    ).format(
        event=event_name[:40],
        when=local_time(starts_at, timezone, language),
        venue=venue[:30],
        doors=doors,
        tickets=tickets,
    )


def stream_reminder_sms(
    language: str, *, event_name: str, starts_at: datetime, timezone: str
) -> str:
    return _(
        language,
        "Reminder: {event} streams {when}. Open the link in your ticket SMS on your phone or TV.",
    ).format(event=event_name[:40], when=local_time(starts_at, timezone, language))


def transfer_code_sms(language: str, *, code: str, ticket: str, to_phone: str) -> str:
    return _(
        language,
        "Your Tikiti code to give ticket {ticket} to {phone} is {code}. "
        "If you did not ask for this, ignore this SMS.",
    ).format(code=code, ticket=ticket, phone=to_phone)


def transferred_sms(language: str, *, event_name: str, to_phone: str) -> str:
    return _(
        language, "Your ticket for {event} now belongs to {phone}. Your old code no longer works."
    ).format(event=event_name[:40], phone=to_phone)


def waitlist_offer_sms(
    language: str, *, event_name: str, tier: str, until: str, reference: str, total: str
) -> str:
    return _(
        language,
        "A {tier} place for {event} is held for you until {until} ({total}). To pay, send "
        "PAY {reference} or dial the Tikiti code and choose Pay for my offer.",
    ).format(event=event_name[:40], tier=tier, until=until, reference=reference, total=total)
