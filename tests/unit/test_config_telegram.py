"""The Telegram settings: absent without a token; with one, a well-formed secret is required."""

from __future__ import annotations

import pytest

from tests.unit.test_config import GOOD
from tikiti.config import SettingsError, TelegramSettings, load_settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "a-Secret_of-24-characters"


def test_without_a_token_there_is_no_bot() -> None:
    assert load_settings(GOOD).telegram is None


def test_a_token_with_its_secret_configures_the_bot_and_hides_both() -> None:
    env = {
        **GOOD,
        "TIKITI_TELEGRAM_TOKEN": TOKEN,
        "TIKITI_TELEGRAM_SECRET": SECRET,
        "TIKITI_TELEGRAM_BASE_URL": "http://127.0.0.1:8777/bot/",
    }
    settings = load_settings(env)
    assert settings.telegram == TelegramSettings(TOKEN, SECRET, "http://127.0.0.1:8777/bot")
    assert TOKEN not in repr(settings) and SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"TIKITI_TELEGRAM_TOKEN": TOKEN}, "TIKITI_TELEGRAM_SECRET"),
        ({"TIKITI_TELEGRAM_TOKEN": TOKEN, "TIKITI_TELEGRAM_SECRET": "has spaces"}, "SECRET"),
        ({"TIKITI_TELEGRAM_TOKEN": TOKEN, "TIKITI_TELEGRAM_SECRET": "x" * 257}, "SECRET"),
        ({"TIKITI_TELEGRAM_TOKEN": TOKEN, "TIKITI_TELEGRAM_SECRET": "short"}, "SECRET"),
        ({"TIKITI_TELEGRAM_SECRET": SECRET}, "TIKITI_TELEGRAM_TOKEN"),
        (
            {
                "TIKITI_TELEGRAM_TOKEN": TOKEN,
                "TIKITI_TELEGRAM_SECRET": SECRET,
                "TIKITI_TELEGRAM_BASE_URL": "ftp://x",
            },
            "TIKITI_TELEGRAM_BASE_URL",
        ),
    ],
)
def test_bad_telegram_settings_are_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({**GOOD, **change})


def test_a_short_secret_is_enough_outside_production() -> None:
    env = {**GOOD, "TIKITI_ENV": "development", "TIKITI_TELEGRAM_TOKEN": TOKEN}
    assert load_settings({**env, "TIKITI_TELEGRAM_SECRET": "a"}).telegram is not None
