"""The arithmetic of promo codes: rounding for the buyer, never below zero, exact shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikiti.core.discounts import (
    FIXED,
    PERCENT,
    Line,
    PromoNotValid,
    Rule,
    check_window,
    describe,
    line_discounts,
    percent_of,
    percent_to_bps,
    spread,
)
from tikiti.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "bps"), [("10", 1000), ("12.5", 1250), (" 0.01 ", 1), ("100", 10_000)]
)
def test_percentages_read_as_basis_points(text: str, bps: int) -> None:
    assert percent_to_bps(text) == bps


@pytest.mark.parametrize("text", ["0", "100.01", "-5", "ten", "12.345", "NaN", "sNaN", "inf", ""])
def test_percentages_that_would_need_rounding_or_make_no_sense_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        percent_to_bps(text)


def test_a_percentage_rounds_up_in_the_buyers_favour() -> None:
    assert percent_of(2997, 1000) == 300
    assert percent_of(3000, 1000) == 300
    assert percent_of(1, 1) == 1


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=10**9),
)
def test_shares_add_up_exactly_and_never_exceed_their_line(amounts: list[int], off: int) -> None:
    total = min(off, sum(amounts))
    shares = spread(total, amounts)
    assert sum(shares) == total
    assert all(0 <= share <= amount for share, amount in zip(shares, amounts, strict=True))


def test_a_tier_code_discounts_its_own_lines_only() -> None:
    lines = [Line(1, 2, 999), Line(2, 1, 2500)]
    assert line_discounts(Rule(PERCENT, 2000, None, 2), lines, "USD") == [0, 500]
    with pytest.raises(PromoNotValid):
        line_discounts(Rule(PERCENT, 2000, None, 3), lines, "USD")


def test_a_fixed_amount_is_capped_at_the_order_and_must_match_its_currency() -> None:
    lines = [Line(1, 1, 700), Line(2, 1, 300)]
    assert line_discounts(Rule(FIXED, 5000, "USD", None), lines, "USD") == [700, 300]
    assert line_discounts(Rule(FIXED, 100, "USD", None), lines, "USD") == [70, 30]
    with pytest.raises(PromoNotValid):
        line_discounts(Rule(FIXED, 100, "USD", None), lines, "ZWG")


def test_the_window_opens_at_its_start_and_closes_at_its_end() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    check_window(now, now + timedelta(hours=1), now)
    check_window(None, None, now)
    with pytest.raises(PromoNotValid, match="not valid yet"):
        check_window(now + timedelta(seconds=1), None, now)
    with pytest.raises(PromoNotValid, match="expired"):
        check_window(None, now, now)


def test_descriptions_read_plainly() -> None:
    assert describe(Rule(PERCENT, 1250, None, None)) == "12.5% off"
    assert describe(Rule(PERCENT, 1000, None, None)) == "10% off"
    assert describe(Rule(FIXED, 200, "USD", None)) == "USD 2.00 off"
