"""Unit tests for tikiti.core.codes."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikiti.core import codes
from tikiti.core.codes import (
    ALPHABET,
    CODE_LENGTH,
    InvalidCode,
    check_character,
    format_code,
    is_valid,
    new_code,
    normalize,
    parse,
)


def seeded(seed: int) -> Callable[[int], int]:
    rnd = random.Random(seed)
    return rnd.randrange


def sample_codes(count: int, seed: int = 2024) -> list[str]:
    rng = seeded(seed)
    return [new_code(rng) for _ in range(count)]


bodies = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH - 1, max_size=CODE_LENGTH - 1)


def test_alphabet_is_crockford() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)
    assert CODE_LENGTH == 10


@pytest.mark.parametrize(
    ("body", "check"),
    [
        # Worked by hand with Luhn mod 32 (rightmost body char doubled).
        ("000000000", "0"),
        ("000000001", "Y"),  # 1*2=2 -> 32-2=30 -> 'Y'
        ("000000010", "Z"),  # 1*1=1 -> 31 -> 'Z'
        ("100000000", "Y"),  # odd length: first char is doubled too
        ("00000000G", "Z"),  # G=16 doubled is 32 = 1*32 + 0, digit sum 1 -> 31 -> 'Z'
    ],
)
def test_check_character_known_values(body: str, check: str) -> None:
    assert check_character(body) == check


def test_check_character_doubling_wraps() -> None:
    # Z=31 doubled is 62 = 1*32 + 30, digit sum 31, so the check is 32-31 = 1.
    assert check_character("00000000Z") == "1"


def test_check_character_rejects_foreign_characters() -> None:
    with pytest.raises(InvalidCode):
        check_character("ABCDEFGHU")
    with pytest.raises(InvalidCode):
        check_character("abcdefghj")


def test_new_code_shape() -> None:
    for code in sample_codes(200):
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert is_valid(code)
        assert parse(code) == code


def test_new_code_default_rng_uses_secrets() -> None:
    generated = {new_code() for _ in range(50)}
    assert len(generated) == 50
    assert all(is_valid(code) for code in generated)


def test_new_code_is_deterministic_with_rng() -> None:
    assert sample_codes(5, seed=7) == sample_codes(5, seed=7)
    assert sample_codes(5, seed=7) != sample_codes(5, seed=8)


def test_new_code_draws_every_body_character_from_rng() -> None:
    calls: list[int] = []

    def rng(n: int) -> int:
        calls.append(n)
        return len(calls) % n

    code = new_code(rng)
    assert calls == [32] * 9
    assert code[:9] == "123456789"


def test_new_code_rejects_out_of_range_rng() -> None:
    with pytest.raises(ValueError):
        new_code(lambda n: n)
    with pytest.raises(ValueError):
        new_code(lambda n: -1)


def test_every_single_substitution_is_caught() -> None:
    """Exhaustive: every position × every other alphabet character, for 300 codes."""
    checked = 0
    for code in sample_codes(300):
        for position in range(CODE_LENGTH):
            for char in ALPHABET:
                if char == code[position]:
                    continue
                typo = code[:position] + char + code[position + 1 :]
                assert not is_valid(typo), (code, typo)
                checked += 1
    assert checked == 300 * CODE_LENGTH * 31


def test_adjacent_transpositions_caught_except_0_z() -> None:
    """Luhn mod 32's only blind spot for swaps is the pair 0/Z (like 09/90 in decimal Luhn)."""
    caught = missed = 0
    for code in sample_codes(300, seed=99):
        for i in range(CODE_LENGTH - 1):
            a, b = code[i], code[i + 1]
            if a == b:
                continue
            swapped = code[:i] + b + a + code[i + 2 :]
            if {a, b} == {"0", "Z"}:
                assert is_valid(swapped)
                missed += 1
            else:
                assert not is_valid(swapped), (code, swapped)
                caught += 1
    assert caught > 2000


def test_0_z_blind_spot_exists() -> None:
    body = "ABCDEFG0Z"
    swapped = "ABCDEFGZ0"
    assert check_character(body) == check_character(swapped)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abcde-fghjk", "ABCDEFGHJK"),
        ("ABCDE FGHJK", "ABCDEFGHJK"),
        ("  ab.cd-e f  ", "ABCDEF"),
        ("oO", "00"),
        ("iIlL", "1111"),
        ("u", "U"),
        ("a\tb\nc", "ABC"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def lookalike_spelling(code: str) -> str:
    return code.replace("0", "o").replace("1", "l").lower()


def test_valid_after_normalization() -> None:
    for code in sample_codes(200, seed=3):
        grouped = f" {code[:5].lower()}-{code[5:]}. "
        assert is_valid(grouped)
        assert parse(grouped) == code
        assert parse(lookalike_spelling(code)) == code
        assert parse(code.replace("1", "I").replace("0", "O")) == code


def test_u_is_never_valid() -> None:
    code = "0123456789"
    for position in range(CODE_LENGTH):
        typo = code[:position] + "U" + code[position + 1 :]
        with pytest.raises(InvalidCode, match="not a ticket code character"):
            parse(typo)


@pytest.mark.parametrize("text", ["", "ABC", "ABCDEFGHJ", "ABCDEFGHJKM", "ABCDE-FGHJK-M"])
def test_parse_wrong_length(text: str) -> None:
    with pytest.raises(InvalidCode, match="wrong length"):
        parse(text)
    assert not is_valid(text)


@pytest.mark.parametrize("text", ["ABCDEFGHJ*", "ABCDE_FGHJ", "ÄBCDEFGHJK", "ABCDEFGH#K"])
def test_parse_foreign_character(text: str) -> None:
    with pytest.raises(InvalidCode, match="not a ticket code character"):
        parse(text)


def test_parse_check_mismatch() -> None:
    code = sample_codes(1)[0]
    wrong = ALPHABET[(ALPHABET.index(code[-1]) + 1) % 32]
    with pytest.raises(InvalidCode, match="check character does not match"):
        parse(code[:-1] + wrong)


def test_invalid_code_is_value_error() -> None:
    assert issubclass(InvalidCode, ValueError)


def test_format_code() -> None:
    code = new_code(seeded(11))
    formatted = format_code(code)
    assert formatted == f"{code[:5]}-{code[5:]}"
    assert len(formatted) == 11
    assert parse(formatted) == code
    assert format_code(lookalike_spelling(code)) == formatted


def test_format_code_rejects_invalid() -> None:
    code = new_code(seeded(12))
    wrong = ALPHABET[(ALPHABET.index(code[-1]) + 5) % 32]
    with pytest.raises(InvalidCode):
        format_code(code[:-1] + wrong)
    with pytest.raises(InvalidCode):
        format_code(code[:-1])


@given(bodies)
def test_check_character_completes_any_body(body: str) -> None:
    code = body + check_character(body)
    assert is_valid(code)
    assert sum(is_valid(body + c) for c in ALPHABET) == 1


@given(st.text(max_size=20))
def test_parse_never_crashes_unexpectedly(text: str) -> None:
    try:
        result = parse(text)
    except InvalidCode:
        return
    assert len(result) == CODE_LENGTH
    assert set(result) <= set(codes.ALPHABET)
