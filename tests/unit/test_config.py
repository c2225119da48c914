"""Settings are validated at start and name the variable that is wrong."""

from __future__ import annotations

import pytest

from tikiti.config import SettingsError, load_settings

GOOD = {
    "TIKITI_DATABASE_URL": "postgresql://tikiti@db.internal/tikiti",
    "TIKITI_REDIS_URL": "redis://cache.internal:6379/0",
    "TIKITI_SECRET_KEY": "k" * 40,
    "TIKITI_CALLBACK_TOKEN": "t" * 24,
    "TIKITI_PUBLIC_URL": "https://tickets.example.org/",
}


def test_a_complete_environment_loads_with_the_asyncpg_dialect() -> None:
    settings = load_settings(GOOD)
    assert settings.database_url == "postgresql+asyncpg://tikiti@db.internal/tikiti"
    assert settings.environment == "production" and settings.port == 8080
    assert settings.public_url == "https://tickets.example.org"
    assert "k" * 40 not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"TIKITI_DATABASE_URL": ""}, "TIKITI_DATABASE_URL"),
        ({"TIKITI_REDIS_URL": "memcached://x"}, "TIKITI_REDIS_URL"),
        ({"TIKITI_SECRET_KEY": "changeme"}, "TIKITI_SECRET_KEY"),
        ({"TIKITI_SECRET_KEY": "short"}, "TIKITI_SECRET_KEY"),
        ({"TIKITI_PORT": "0"}, "TIKITI_PORT"),
        ({"TIKITI_ENV": "staging"}, "TIKITI_ENV"),
        ({"TIKITI_DB_POOL_SIZE": "many"}, "TIKITI_DB_POOL_SIZE"),
        ({"TIKITI_CALLBACK_TOKEN": ""}, "TIKITI_CALLBACK_TOKEN"),
        ({"TIKITI_PUBLIC_URL": ""}, "TIKITI_PUBLIC_URL"),
        ({"TIKITI_LOG_LEVEL": "chatty"}, "TIKITI_LOG_LEVEL"),
        ({"TIKITI_PUBLIC_URL": "tickets.example.org"}, "TIKITI_PUBLIC_URL"),
        ({"TIKITI_LISTING_CACHE_SECONDS": "-1"}, "TIKITI_LISTING_CACHE_SECONDS"),
    ],
)
def test_a_wrong_setting_is_named(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({**GOOD, **change})


def test_development_accepts_a_short_secret_but_not_none() -> None:
    assert load_settings({**GOOD, "TIKITI_ENV": "development", "TIKITI_SECRET_KEY": "dev"})
    with pytest.raises(SettingsError, match="TIKITI_SECRET_KEY is not set"):
        load_settings({**GOOD, "TIKITI_ENV": "development", "TIKITI_SECRET_KEY": ""})
