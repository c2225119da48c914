"""Ticket links filled in at send time, and the pay-per-view rules that need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tikiti.core import media, setup, watch
from tikiti.core.errors import InvalidInput
from tikiti.core.links import WATCH_MARK, Links
from tikiti.core.models import Event
from tikiti.core.ports import Outgoing

LINKS = Links("https://tikiti.example/", "secret")
START = datetime(2026, 12, 12, 16, 0, tzinfo=UTC)


def test_a_ticket_message_gets_links_for_the_tickets_current_version() -> None:
    message = Outgoing(1, "whatsapp", "+263771234567", f"Watch: {WATCH_MARK} now", None, 1, 7, 3)
    sent = LINKS.render(message)
    token = sent.body.split("/watch/")[1].split()[0]
    assert media.read("secret", token, media.WATCH) == (7, 3)
    assert media.read("secret", token, media.QR) is None  # a stream link is not a QR link
    assert sent.media_url is not None and sent.media_url.startswith("https://tikiti.example/t/")
    plain = Outgoing(2, "sms", "+263771234567", "Your payment failed", None, 1)
    assert LINKS.render(plain) == plain


def _spec(**changes: object) -> setup.EventSpec:
    base: dict[str, object] = {
        "organizer_id": 1,
        "code": "LIVE",
        "name": "Live",
        "category": "music",
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "timezone": "Africa/Harare",
        "country": "ZW",
        "stream_url": "https://stream.example.com/x",
    }
    return setup.EventSpec(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"stream_url": "ftp://stream.example.com/x"},
        {"stream_url": "javascript:alert(1)"},
        {"stream_url": "https:// spaced.example"},
        {"watch_devices": 0},
        {"watch_devices": 21},
        {"watch_until": START + timedelta(hours=1)},
    ],
)
def test_a_pay_per_view_event_is_checked_before_it_is_saved(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        setup._check_stream(_spec(**changes))


def test_the_window_opens_with_the_doors_or_just_before_the_start() -> None:
    event = Event(starts_at=START, ends_at=START + timedelta(hours=3), doors_open_at=None)
    assert watch.window(event).opens_at == START - watch.EARLY_OPEN
    event.doors_open_at = START - timedelta(hours=1)
    event.watch_until = START + timedelta(days=2)
    assert watch.window(event) == watch.Window(
        START - timedelta(hours=1), START + timedelta(days=2)
    )


def test_a_refusal_is_explained_in_the_buyers_language() -> None:
    refusal = watch.WatchRefused(
        watch.Refusal.NOT_OPEN, event_name="Derby", at=START, timezone="Africa/Harare"
    )
    assert watch.explain(refusal) == "Derby opens here at Sat 12 Dec 18:00. Please come back then."
    refusal.language = "sw"
    assert "Derby itafunguliwa" in watch.explain(refusal)
