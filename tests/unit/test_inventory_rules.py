"""Pure rules behind holds: merging order lines, choosing seats, wording a ticket SMS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikiti.core.codes import check_character
from tikiti.core.errors import InvalidInput, LimitExceeded
from tikiti.core.holds import Item, merge_items
from tikiti.core.notices import ticket_sms
from tikiti.core.seating import FreeSeat, choose


def seats(layout: dict[str, list[int]]) -> list[FreeSeat]:
    out = []
    for rank, (row, numbers) in enumerate(layout.items()):
        out.extend(FreeSeat(rank * 100 + n, row, rank, n) for n in numbers)
    return out


def test_merge_sums_a_tier_and_orders_tiers_to_avoid_deadlocks() -> None:
    merged = merge_items([Item(9, 1), Item(3, 2), Item(9, 2)], per_order_limit=10)
    assert merged == [Item(3, 2), Item(9, 3)]


def test_merge_enforces_limit_and_positive_quantities() -> None:
    with pytest.raises(LimitExceeded):
        merge_items([Item(1, 3), Item(2, 3)], per_order_limit=5)
    with pytest.raises(InvalidInput):
        merge_items([Item(1, 0)], per_order_limit=5)
    with pytest.raises(InvalidInput):
        merge_items([], per_order_limit=5)


def test_choose_prefers_adjacent_seats_in_the_best_row() -> None:
    free = seats({"A": [1, 3, 5], "B": [4, 5, 6, 7], "C": [1, 2, 3]})
    assert [(s.row_label, s.number) for s in choose(free, 3)] == [("B", 4), ("B", 5), ("B", 6)]


def test_choose_falls_back_to_the_best_seats_when_none_are_together() -> None:
    free = seats({"A": [1, 3], "B": [2]})
    assert [(s.row_label, s.number) for s in choose(free, 2)] == [("A", 1), ("A", 3)]


@given(
    st.dictionaries(st.sampled_from("ABCDEF"), st.sets(st.integers(1, 30), min_size=1), min_size=1),
    st.integers(1, 8),
)
def test_choose_never_repeats_a_seat_and_takes_exactly_enough(
    layout: dict[str, set[int]], count: int
) -> None:
    free = seats({row: sorted(numbers) for row, numbers in layout.items()})
    chosen = choose(free, count)
    assert len(chosen) == min(count, len(free))
    assert len({s.id for s in chosen}) == len(chosen)


def test_ticket_sms_fits_one_gsm7_segment() -> None:
    body = ticket_sms(
        "en",
        event_name="Harare International Festival of the Arts",
        starts_at=datetime(2026, 12, 12, 16, 0, tzinfo=UTC),
        timezone="Africa/Harare",
        tier_name="Covered Stand",
        code="012345678" + check_character("012345678"),
        seat="K50",
    )
    assert len(body) <= 160, body
    assert body.isascii()
    assert "Sat 12 Dec 18:00" in body and "01234-5678" in body
