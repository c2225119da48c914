"""Phone numbers in one canonical form (E.164), whatever a buyer or a gateway typed."""

from __future__ import annotations

import phonenumbers

from tikiti.core.errors import InvalidInput


def normalize_phone(raw: str, default_country: str = "ZW") -> str:
    """Return +E.164 or raise InvalidInput; local forms like 0771234567 use the country given."""
    text = raw.strip()
    if not text or len(text) > 32:
        raise InvalidInput("phone number is missing or too long", field="phone")
    try:
        parsed = phonenumbers.parse(text, default_country.upper())
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"not a phone number: {text!r}", field="phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"not a valid phone number: {text!r}", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    parsed = phonenumbers.parse(e164, None)
    kind = phonenumbers.number_type(parsed)
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
