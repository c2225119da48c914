"""Ticket short codes that people retype from an SMS, with a check character that catches typos."""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE = len(ALPHABET)
CODE_LENGTH = 10
BODY_LENGTH = CODE_LENGTH - 1

_VALUES = {char: value for value, char in enumerate(ALPHABET)}
# Crockford's decoding rules: letters easily misread as digits mean those digits.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = frozenset(" -.\t\r\n")
_GROUP = 5


class InvalidCode(ValueError):
    """Raised with a short, user-facing reason why typed text is not a ticket code."""


def check_character(body: str) -> str:
    """Luhn mod 32 over the body, so any single mistyped character changes the check."""
    total = 0
    for offset, char in enumerate(reversed(body)):
        value = _VALUES.get(char)
        if value is None:
            raise InvalidCode("not a ticket code character")
        if offset % 2 == 0:
            value *= 2
            value = value // BASE + value % BASE
        total += value
    return ALPHABET[-total % BASE]


def new_code(rng: Callable[[int], int] | None = None) -> str:
    """Issue a fresh code; `rng` exists so tests can be deterministic, production uses secrets."""
    draw = rng or secrets.randbelow
    body = "".join(ALPHABET[_draw_index(draw)] for _ in range(BODY_LENGTH))
    return body + check_character(body)


def _draw_index(draw: Callable[[int], int]) -> int:
    index = draw(BASE)
    if not 0 <= index < BASE:
        raise ValueError(f"rng returned {index}, outside [0, {BASE})")
    return index


def normalize(text: str) -> str:
    """Forgive what people do when copying a code: case, grouping marks and look-alike letters."""
    kept = "".join(char for char in text.upper() if char not in _SEPARATORS)
    return kept.translate(_LOOKALIKES)


def parse(text: str) -> str:
    """Return the canonical code, or say why not in words suitable for an SMS reply."""
    code = normalize(text)
    if len(code) != CODE_LENGTH:
        raise InvalidCode("wrong length")
    if any(char not in _VALUES for char in code):
        raise InvalidCode("not a ticket code character")
    if check_character(code[:-1]) != code[-1]:
        raise InvalidCode("check character does not match")
    return code


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except InvalidCode:
        return False
    return True


def format_code(code: str) -> str:
    """Split in two groups of five, which people read and key in more reliably than ten."""
    canonical = parse(code)
    return f"{canonical[:_GROUP]}-{canonical[_GROUP:]}"
