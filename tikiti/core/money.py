"""Money as integer minor units of an ISO 4217 currency, so amounts never pass through a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

# Currencies newer than some Babel/CLDR releases; Babel's answer wins when it knows them.
_PRECISION_OVERRIDES: dict[str, int] = {"ZWG": 2}

# Longer input is never a real price and would only let int() choke on huge strings.
_MAX_TEXT_LENGTH = 64

_CODE_RE = re.compile(r"[A-Z]{3}")
_AMOUNT_RE = re.compile(r"(-?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?")


class MoneyError(ValueError):
    """Raised for amounts that cannot be trusted: unknown currency, mixed currencies, bad text."""


@cache
def _babel_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def _known_currencies() -> frozenset[str]:
    return _babel_currencies() | frozenset(_PRECISION_OVERRIDES)


@cache
def _precision(currency: str) -> int:
    # Babel silently answers 2 for codes it does not know, so only ask about known ones.
    if currency in _babel_currencies():
        return int(get_currency_precision(currency))
    return _PRECISION_OVERRIDES[currency]


def _check_currency(currency: object) -> str:
    if not isinstance(currency, str) or not _CODE_RE.fullmatch(currency):
        raise MoneyError(f"currency must be a 3-letter upper-case ISO 4217 code, got {currency!r}")
    if currency not in _known_currencies():
        raise MoneyError(f"unknown currency {currency!r}")
    return currency


def _group_thousands(digits: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ",".join(groups)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount; arithmetic refuses to mix currencies because there is no implied rate."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        _check_currency(self.currency)
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError(f"minor units must be an int, got {type(self.minor).__name__}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str, *, allow_negative: bool = False) -> Money:
        """Read an amount typed by a person, refusing anything that would need rounding."""
        exponent = _precision(_check_currency(currency))
        cleaned = text.strip() if isinstance(text, str) else ""
        match = _AMOUNT_RE.fullmatch(cleaned) if len(cleaned) <= _MAX_TEXT_LENGTH else None
        if match is None:
            raise MoneyError(f"not an amount: {text!r}")
        sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
        if sign and not allow_negative:
            raise MoneyError(f"negative amounts are not allowed here: {text!r}")
        if len(fraction) > exponent:
            raise MoneyError(f"{currency} has {exponent} decimal places, got {text!r}")
        minor = int(whole.replace(",", "") + fraction.ljust(exponent, "0"))
        return cls(-minor if sign else minor, currency)

    @property
    def exponent(self) -> int:
        return _precision(self.currency)

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        # Only whole multiples: a fractional factor would need a rounding policy.
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Money(self.minor * factor, self.currency)

    def __rmul__(self, factor: int) -> Money:
        return self.__mul__(factor)

    def __bool__(self) -> bool:
        return self.minor != 0

    def _key(self, other: object) -> tuple[int, int] | None:
        if not isinstance(other, Money):
            return None
        self._same_currency(other)
        return self.minor, other.minor

    def __lt__(self, other: Money) -> bool:
        pair = self._key(other)
        return NotImplemented if pair is None else pair[0] < pair[1]

    def __le__(self, other: Money) -> bool:
        pair = self._key(other)
        return NotImplemented if pair is None else pair[0] <= pair[1]

    def __gt__(self, other: Money) -> bool:
        pair = self._key(other)
        return NotImplemented if pair is None else pair[0] > pair[1]

    def __ge__(self, other: Money) -> bool:
        pair = self._key(other)
        return NotImplemented if pair is None else pair[0] >= pair[1]

    def _parts(self) -> tuple[str, str, str]:
        digits = str(abs(self.minor)).rjust(self.exponent + 1, "0")
        cut = len(digits) - self.exponent
        return ("-" if self.minor < 0 else ""), digits[:cut], digits[cut:]

    def decimal_string(self) -> str:
        """Machine-friendly amount (no grouping) that `parse` reads back exactly."""
        sign, whole, fraction = self._parts()
        return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"

    def format(self) -> str:
        """Plain ASCII so it survives GSM-7 SMS and USSD screens without symbol fonts."""
        sign, whole, fraction = self._parts()
        amount = _group_thousands(whole) + (f".{fraction}" if fraction else "")
        return f"{self.currency} {sign}{amount}"

    def __str__(self) -> str:
        return self.format()
