"""Twilio settings are all optional, but what is set must make sense together."""

from __future__ import annotations

import pytest

from tikiti.config import SettingsError, load_settings

BASE = {
    "TIKITI_DATABASE_URL": "postgresql://tikiti@db.internal/tikiti",
    "TIKITI_REDIS_URL": "redis://cache.internal:6379/0",
    "TIKITI_SECRET_KEY": "k" * 40,
    "TIKITI_ENV": "development",
}
SID = "AC" + "0123456789abcdef" * 2
TWILIO = {
    "TIKITI_TWILIO_ACCOUNT_SID": SID,
    "TIKITI_TWILIO_AUTH_TOKEN": "f" * 32,
    "TIKITI_TWILIO_SMS_FROM": "+15005550006",
    "TIKITI_TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
    "TIKITI_TWILIO_WHATSAPP_TEMPLATE": "HX" + "ab" * 16,
}


def test_no_twilio_variable_means_no_twilio() -> None:
    assert load_settings(BASE).twilio is None


def test_a_complete_account_loads_and_keeps_its_secrets_out_of_repr() -> None:
    settings = load_settings({**BASE, **TWILIO, "TIKITI_TWILIO_BASE_URL": "http://fake:1/"})
    twilio = settings.twilio
    assert twilio is not None
    assert twilio.account_sid == SID and twilio.whatsapp_from == "whatsapp:+14155238886"
    assert twilio.base_url == "http://fake:1"
    assert "f" * 32 not in repr(settings)


def test_a_messaging_service_and_a_bare_whatsapp_number_are_accepted() -> None:
    twilio = load_settings(
        {
            **BASE,
            **TWILIO,
            "TIKITI_TWILIO_SMS_FROM": "MG" + "0" * 32,
            "TIKITI_TWILIO_WHATSAPP_FROM": "+14155238886",
        }
    ).twilio
    assert twilio is not None
    assert twilio.sms_from.startswith("MG") and twilio.whatsapp_from == "whatsapp:+14155238886"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"TIKITI_TWILIO_ACCOUNT_SID": ""}, "TIKITI_TWILIO_ACCOUNT_SID"),
        ({"TIKITI_TWILIO_ACCOUNT_SID": "AC123"}, "TIKITI_TWILIO_ACCOUNT_SID"),
        ({"TIKITI_TWILIO_AUTH_TOKEN": ""}, "TIKITI_TWILIO_AUTH_TOKEN"),
        ({"TIKITI_TWILIO_SMS_FROM": "0771234567"}, "TIKITI_TWILIO_SMS_FROM"),
        ({"TIKITI_TWILIO_WHATSAPP_FROM": "whatsapp:14155238886"}, "TIKITI_TWILIO_WHATSAPP_FROM"),
        ({"TIKITI_TWILIO_WHATSAPP_TEMPLATE": "template-1"}, "TIKITI_TWILIO_WHATSAPP_TEMPLATE"),
        ({"TIKITI_TWILIO_BASE_URL": "fake:1"}, "TIKITI_TWILIO_BASE_URL"),
        ({"TIKITI_TWILIO_SMS_FROM": "", "TIKITI_TWILIO_WHATSAPP_FROM": ""}, "SMS_FROM"),
        ({"TIKITI_TWILIO_WHATSAPP_FROM": ""}, "TIKITI_TWILIO_WHATSAPP_TEMPLATE needs"),
    ],
)
def test_a_wrong_twilio_setting_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({**BASE, **TWILIO, **change})


def test_a_token_alone_is_refused() -> None:
    with pytest.raises(SettingsError, match="TIKITI_TWILIO_ACCOUNT_SID"):
        load_settings({**BASE, "TIKITI_TWILIO_AUTH_TOKEN": "f" * 32})
