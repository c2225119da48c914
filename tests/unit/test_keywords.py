"""Chat keywords and stale buttons: the parts of the dialog that need no database."""

from __future__ import annotations

import pytest

from tikiti.core.catalog import TierAvailability
from tikiti.dialogs import engine, keywords
from tikiti.dialogs.session import Session
from tikiti.dialogs.types import Inbound


@pytest.mark.parametrize(
    ("text", "word", "args"),
    [
        ("EVENTS", "EVENTS", ()),
        ("  events ", "EVENTS", ()),
        ("Buy zimfest vip 2", "BUY", ("zimfest", "vip", "2")),
        ("stop", "STOP", ()),
        ("lang sn", "LANG", ("sn",)),
    ],
)
def test_keywords_are_read_in_any_letter_case(text: str, word: str, args: tuple[str, ...]) -> None:
    assert keywords.parse(text) == keywords.Command(word, args)


@pytest.mark.parametrize("text", ["", "1", "00", "hello", "buying tickets", "BUY a b c d e f"])
def test_anything_else_is_a_reply_to_the_screen(text: str) -> None:
    assert keywords.parse(text) is None


def _tier(code: str, name: str) -> TierAvailability:
    return TierAvailability(1, code, name, 100, 10, {})


def test_a_tier_is_named_by_code_name_or_an_unambiguous_start() -> None:
    tiers = [_tier("VIP", "VIP Lounge"), _tier("GA", "General"), _tier("GS", "General Seated")]
    assert keywords._match_tier(tiers, "vip") is tiers[0]
    assert keywords._match_tier(tiers, "general") is tiers[1]
    assert keywords._match_tier(tiers, "vip l") is tiers[0]
    assert keywords._match_tier(tiers, "gen") is None  # two tiers start so: ask
    assert keywords._match_tier(tiers, "balcony") is None


def test_a_button_from_an_older_screen_is_stale() -> None:
    session = Session(last_reply={"text": "x", "screen": "abcd1234"})
    tap = Inbound("telegram", "+263771234567", "tg:1", "1", chat=True, screen="abcd1234")
    assert not engine._stale(tap, session)
    assert engine._stale(Inbound("telegram", "+263771234567", "tg:1", "1", screen="0000"), session)
    typed = Inbound("sms", "+263771234567", "+263771234567", "1", chat=True)
    assert not engine._stale(typed, session)  # typed replies name no screen
