"""Unit tests for tikiti.core.money."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikiti.core import money as money_module
from tikiti.core.money import Money, MoneyError

CURRENCIES = ["USD", "KES", "JPY", "ZWG", "BHD", "UGX", "TZS", "EUR"]
currencies = st.sampled_from(CURRENCIES)
minors = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money(draw(minors), currency or draw(currencies))


@st.composite
def same_currency_pair(draw: st.DrawFn) -> tuple[Money, Money]:
    currency = draw(currencies)
    return Money(draw(minors), currency), Money(draw(minors), currency)


# --- construction -----------------------------------------------------------


@pytest.mark.parametrize(("currency", "exponent"), [("USD", 2), ("KES", 2), ("JPY", 0), ("ZWG", 2)])
def test_exponent(currency: str, exponent: int) -> None:
    assert Money(1, currency).exponent == exponent


def test_zwg_override_when_babel_does_not_know_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Older Babel releases lack ZWG; the override table must still give it 2 decimals."""
    monkeypatch.setattr(money_module, "_babel_currencies", lambda: frozenset({"USD"}))
    money_module._precision.cache_clear()
    try:
        assert Money(150, "ZWG").exponent == 2
        assert Money.parse("1.50", "ZWG") == Money(150, "ZWG")
    finally:
        money_module._precision.cache_clear()


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "", "ABC", "QQQ", "U$D", 840, None])
def test_rejects_bad_currency(currency: object) -> None:
    with pytest.raises(MoneyError):
        Money(1, currency)  # type: ignore[arg-type]


@pytest.mark.parametrize("minor", [1.0, 1.5, True, False, "100", None])
def test_rejects_non_int_minor(minor: object) -> None:
    with pytest.raises(MoneyError):
        Money(minor, "USD")  # type: ignore[arg-type]


def test_money_error_is_value_error() -> None:
    assert issubclass(MoneyError, ValueError)


def test_zero() -> None:
    z = Money.zero("KES")
    assert z == Money(0, "KES")
    assert not z
    assert Money(1, "KES")
    assert Money(-1, "KES")


def test_frozen() -> None:
    m = Money(100, "USD")
    with pytest.raises(AttributeError):
        m.minor = 5  # type: ignore[misc]


def test_hashable_and_equality_includes_currency() -> None:
    assert Money(100, "USD") != Money(100, "KES")
    assert len({Money(100, "USD"), Money(100, "USD"), Money(100, "KES")}) == 2


# --- parse ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12", "USD", 1200),
        ("12.5", "USD", 1250),
        ("12.50", "USD", 1250),
        ("1,234.50", "USD", 123450),
        ("1,234,567", "KES", 123456700),
        ("0", "USD", 0),
        ("0.01", "USD", 1),
        ("0.5", "USD", 50),
        ("  7.25 ", "KES", 725),
        ("500", "JPY", 500),
        ("1,000", "JPY", 1000),
        ("1.234", "BHD", 1234),
        ("99.9", "ZWG", 9990),
    ],
)
def test_parse_accepts(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.505", "USD"),
        ("12.5", "JPY"),
        ("1.2345", "BHD"),
        ("", "USD"),
        ("   ", "USD"),
        ("abc", "USD"),
        ("12a", "USD"),
        ("1.2.3", "USD"),
        ("12.", "USD"),
        (".5", "USD"),
        ("+12", "USD"),
        ("1,23.00", "USD"),
        ("1234,567", "USD"),
        (",123", "USD"),
        ("1 234", "USD"),
        ("1e3", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("١٢", "USD"),  # Arabic-Indic digits: int() would accept them, we must not
        ("１２", "USD"),  # full-width digits
        ("USD 12", "USD"),
        ("9" * 100, "USD"),
    ],
)
def test_parse_rejects(text: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, currency)


def test_parse_rejects_negative_by_default() -> None:
    with pytest.raises(MoneyError, match="negative"):
        Money.parse("-5", "USD")


def test_parse_allows_negative_when_asked() -> None:
    assert Money.parse("-1,234.5", "USD", allow_negative=True) == Money(-123450, "USD")


def test_parse_rejects_unknown_currency() -> None:
    with pytest.raises(MoneyError):
        Money.parse("12", "XYZ")


def test_parse_rejects_non_string() -> None:
    with pytest.raises(MoneyError):
        Money.parse(12.5, "USD")  # type: ignore[arg-type]


# --- formatting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "decimal", "formatted"),
    [
        (1250, "USD", "12.50", "USD 12.50"),
        (123450, "USD", "1234.50", "USD 1,234.50"),
        (5, "USD", "0.05", "USD 0.05"),
        (0, "USD", "0.00", "USD 0.00"),
        (-123450, "KES", "-1234.50", "KES -1,234.50"),
        (123456789, "KES", "1234567.89", "KES 1,234,567.89"),
        (1000, "JPY", "1000", "JPY 1,000"),
        (999, "JPY", "999", "JPY 999"),
        (1234567, "BHD", "1234.567", "BHD 1,234.567"),
        (100000, "ZWG", "1000.00", "ZWG 1,000.00"),
    ],
)
def test_format(minor: int, currency: str, decimal: str, formatted: str) -> None:
    m = Money(minor, currency)
    assert m.decimal_string() == decimal
    assert m.format() == formatted
    assert str(m) == formatted


_GSM_SAFE = re.compile(r"[A-Z]{3} -?[0-9]{1,3}(,[0-9]{3})*(\.[0-9]+)?")


@given(money())
def test_format_is_plain_ascii(m: Money) -> None:
    assert _GSM_SAFE.fullmatch(m.format())


@given(money())
def test_decimal_string_round_trip(m: Money) -> None:
    assert Money.parse(m.decimal_string(), m.currency, allow_negative=True) == m


@given(money())
def test_format_round_trip(m: Money) -> None:
    code, amount = m.format().split(" ", 1)
    assert code == m.currency
    assert Money.parse(amount, code, allow_negative=True) == m


@given(currencies, st.integers(min_value=0, max_value=10**12))
def test_parse_of_whole_units(currency: str, units: int) -> None:
    m = Money.parse(str(units), currency)
    assert m.minor == units * 10**m.exponent


# --- arithmetic ---------------------------------------------------------------


@given(same_currency_pair())
def test_add_commutes_and_sub_inverts(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert a + b == b + a
    assert (a + b) - b == a
    assert (a + b).minor == a.minor + b.minor
    assert a - a == Money.zero(a.currency)


@given(money(), st.integers(min_value=-1000, max_value=1000))
def test_multiply_is_repeated_addition(m: Money, k: int) -> None:
    assert m * k == k * m
    assert (m * k).minor == m.minor * k
    total = Money.zero(m.currency)
    for _ in range(abs(k) % 20):
        total = total + m
    assert m * (abs(k) % 20) == total


@given(money())
def test_negation(m: Money) -> None:
    assert (-m).__neg__() == m
    assert -m != m or m.minor == 0
    assert m + (-m) == Money.zero(m.currency)
    assert (-m).is_negative == (m.minor > 0)
    assert m.is_negative == (m.minor < 0)


@given(same_currency_pair())
def test_ordering_matches_minor_units(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert (a < b) == (a.minor < b.minor)
    assert (a <= b) == (a.minor <= b.minor)
    assert (a > b) == (a.minor > b.minor)
    assert (a >= b) == (a.minor >= b.minor)


def test_sorting_same_currency() -> None:
    items = [Money(300, "USD"), Money(-1, "USD"), Money(20, "USD")]
    assert [m.minor for m in sorted(items)] == [-1, 20, 300]
    assert max(items) == Money(300, "USD")


def test_mixed_currency_arithmetic_rejected() -> None:
    usd, kes = Money(100, "USD"), Money(100, "KES")
    with pytest.raises(MoneyError):
        _ = usd + kes
    with pytest.raises(MoneyError):
        _ = usd - kes


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__"])
def test_mixed_currency_comparison_rejected(op: str) -> None:
    with pytest.raises(MoneyError):
        getattr(Money(100, "USD"), op)(Money(100, "KES"))


def test_comparison_with_non_money_is_type_error() -> None:
    with pytest.raises(TypeError):
        _ = Money(100, "USD") < 5  # type: ignore[operator]


@pytest.mark.parametrize("factor", [1.5, 2.0, True, "2"])
def test_multiply_only_by_int(factor: object) -> None:
    with pytest.raises(TypeError):
        _ = Money(100, "USD") * factor  # type: ignore[operator]


def test_add_non_money_is_type_error() -> None:
    with pytest.raises(TypeError):
        _ = Money(100, "USD") + 1  # type: ignore[operator]
