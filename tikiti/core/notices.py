"""Texts that core writes to the outbox, rendered in the buyer's language (gettext catalogs)."""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from tikiti.core.codes import format_code

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("en", "sn", "nd", "sw")


@lru_cache(maxsize=16)
def translator(language: str) -> gettext.NullTranslations:
    return gettext.translation("tikiti", localedir=LOCALE_DIR, languages=[language], fallback=True)


def _(language: str, message: str) -> str:
    return translator(language).gettext(message)


def local_time(moment: datetime, timezone: str) -> str:
    """Short GSM-7 safe date for an SMS, e.g. 'Sat 12 Dec 18:00', in the event's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %H:%M")


def ticket_sms(
    language: str,
    *,
    event_name: str,
    starts_at: datetime,
    timezone: str,
    tier_name: str,
    code: str,
    seat: str | None,
) -> str:
    seat_text = _(language, "Seat {seat}. ").format(seat=seat) if seat else ""
    return _(
        language, "{event} {when}, {tier}. {seat}Ticket code: {code}. Show it at the gate."
    ).format(
        event=event_name[:40],
        when=local_time(starts_at, timezone),
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
        "Your payment for {event} (order {reference}) did not go through. No money was taken "
        "for it; your places were released. You can try again.",
    ).format(event=event_name[:40], reference=reference)
