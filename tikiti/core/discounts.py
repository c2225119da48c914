"""The arithmetic of a promo code, pure: percentages, rounding, and spreading over order lines.

Every rounding favours the buyer: a percentage discount is rounded up to the next minor unit,
and no line (so no order) is ever discounted below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from tikiti.core.errors import InvalidInput, LimitExceeded, NotFound
from tikiti.core.money import Money

PERCENT = "percent"
FIXED = "fixed"
FULL_BPS = 10_000  # 100 %, in basis points


class PromoNotFound(NotFound):
    """No such code for this event, or the organizer switched it off."""

    code = "promo_not_found"


class PromoNotValid(InvalidInput):
    """The code exists but not for this: too early, too late, another tier or currency."""

    code = "promo_not_valid"


class PromoUsedUp(LimitExceeded):
    code = "promo_used_up"


class PromoBuyerLimit(LimitExceeded):
    code = "promo_buyer_limit"


@dataclass(frozen=True, slots=True)
class Line:
    tier_id: int
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True, slots=True)
class Rule:
    """What a code takes off: `value` is basis points for percent, minor units for fixed."""

    kind: str
    value: int
    currency: str | None
    tier_id: int | None


def percent_to_bps(text: str) -> int:
    """'10' or '12.5' percent as basis points, refusing anything that would need rounding."""
    try:
        bps = Decimal(text.strip()) * 100
    except InvalidOperation:
        raise InvalidInput(f"not a percentage: {text!r}", field="percent") from None
    if bps != bps.to_integral_value() or not 0 < bps <= FULL_BPS:
        raise InvalidInput("a percentage is more than 0 and at most 100", field="percent")
    return int(bps)


def commission_bps(text: str) -> int:
    """A commission percentage, where none at all ('0' or nothing) is allowed too."""
    try:
        if Decimal(text.strip() or "0") == 0:
            return 0
    except InvalidOperation:
        pass  # percent_to_bps names the mistake
    return percent_to_bps(text)


def percent_of(amount_minor: int, bps: int) -> int:
    """A percentage of an amount, rounded up: the buyer never gets a fraction less off."""
    return -(-amount_minor * bps // FULL_BPS)


def spread(total: int, amounts: Sequence[int]) -> list[int]:
    """Split `total` over lines in proportion to their amounts (largest remainder first), so
    the shares add up exactly and none exceeds its line when `total <= sum(amounts)`."""
    whole = sum(amounts)
    if total <= 0 or whole <= 0:
        return [0] * len(amounts)
    shares = [total * amount // whole for amount in amounts]
    by_remainder = sorted(range(len(amounts)), key=lambda i: (-(total * amounts[i] % whole), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def line_discounts(rule: Rule, lines: Sequence[Line], currency: str) -> list[int]:
    """The discount on each line, in the order's currency; raises PromoNotValid when the code
    does not apply to these tickets."""
    eligible = [
        line.quantity * line.unit_price_minor if rule.tier_id in (None, line.tier_id) else 0
        for line in lines
    ]
    if rule.tier_id is not None and all(line.tier_id != rule.tier_id for line in lines):
        raise PromoNotValid("this code is not for these tickets")
    base = sum(eligible)
    if rule.kind == PERCENT:
        off = percent_of(base, rule.value)
    elif rule.currency != currency:
        raise PromoNotValid(f"this code is for payments in {rule.currency}")
    else:
        off = rule.value
    return spread(min(off, base), eligible)


def check_window(starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> None:
    if starts_at is not None and now < starts_at:
        raise PromoNotValid("this code is not valid yet")
    if ends_at is not None and now >= ends_at:
        raise PromoNotValid("this code has expired")


def describe(rule: Rule) -> str:
    """'10% off' or 'USD 2.00 off', for a screen or a listing."""
    if rule.kind == PERCENT:
        percent = Decimal(rule.value) / 100
        return f"{percent.normalize():f}% off"
    assert rule.currency is not None
    return f"{Money(rule.value, rule.currency)} off"
