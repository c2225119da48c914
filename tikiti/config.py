"""Settings from TIKITI_* environment variables: validated once at start, frozen, passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

Environment = Literal["development", "test", "production"]

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    secret_key: str = field(repr=False)
    environment: Environment = "production"
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    db_pool_size: int = 20
    redis_prefix: str = ""
    log_level: str = "INFO"
    default_country: str = "ZW"
    sandbox_enabled: bool = False
    listing_cache_seconds: float = 2.0
    callback_token: str = field(default="", repr=False)
    at_username: str = ""
    at_api_key: str = field(default="", repr=False)
    at_sender_id: str = ""
    at_base_url: str = ""  # empty: the SDK's own (production, or sandbox for username "sandbox")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str:
    value = _required(env, name)
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        raise SettingsError(f"{name} must be a URL starting with one of {', '.join(schemes)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().upper() or default
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0")


def _environment(env: Mapping[str, str]) -> Environment:
    raw = env.get("TIKITI_ENV", "production").strip() or "production"
    if raw not in ("development", "test", "production"):
        raise SettingsError("TIKITI_ENV must be development, test or production")
    return raw  # type: ignore[return-value]


def _secret(env: Mapping[str, str], environment: Environment) -> str:
    secret = env.get("TIKITI_SECRET_KEY", "")
    if environment == "production" and (
        secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH
    ):
        raise SettingsError(
            f"TIKITI_SECRET_KEY must be a random string of at least {MIN_SECRET_LENGTH} characters"
        )
    if not secret:
        raise SettingsError("TIKITI_SECRET_KEY is not set")
    return secret


def _public_url(env: Mapping[str, str], environment: Environment) -> str:
    """Providers call back at this address; a production default of localhost would be lost."""
    url = env.get("TIKITI_PUBLIC_URL", "").strip().rstrip("/")
    if not url:
        if environment == "production":
            raise SettingsError("TIKITI_PUBLIC_URL is not set (the address providers call back)")
        return "http://127.0.0.1:8080"
    if urlsplit(url).scheme not in ("http", "https"):
        raise SettingsError("TIKITI_PUBLIC_URL must start with http:// or https://")
    return url


def _callback_token(env: Mapping[str, str], environment: Environment) -> str:
    """Unsigned gateways (Africa's Talking) are believed only at URLs carrying this secret."""
    token = env.get("TIKITI_CALLBACK_TOKEN", "").strip()
    if environment == "production" and len(token) < 16:
        raise SettingsError(
            "TIKITI_CALLBACK_TOKEN must be a random string of at least 16 characters"
        )
    return token


def normalize_database_url(url: str) -> str:
    """Accept plain libpq URLs from operators; the engine needs the asyncpg dialect."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    environment = _environment(env)
    database_url = _url(
        env, "TIKITI_DATABASE_URL", ("postgresql", "postgres", "postgresql+asyncpg")
    )
    return Settings(
        database_url=normalize_database_url(database_url),
        redis_url=_url(env, "TIKITI_REDIS_URL", ("redis", "rediss", "unix")),
        secret_key=_secret(env, environment),
        environment=environment,
        public_url=_public_url(env, environment),
        host=env.get("TIKITI_HOST", "127.0.0.1"),
        port=_int(env, "TIKITI_PORT", 8080, 1, 65535),
        db_pool_size=_int(env, "TIKITI_DB_POOL_SIZE", 20, 1, 500),
        redis_prefix=env.get("TIKITI_REDIS_PREFIX", ""),
        log_level=_choice(env, "TIKITI_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        default_country=env.get("TIKITI_DEFAULT_COUNTRY", "ZW").upper(),
        sandbox_enabled=_flag(env, "TIKITI_SANDBOX", default=environment != "production"),
        callback_token=_callback_token(env, environment),
        listing_cache_seconds=float(_int(env, "TIKITI_LISTING_CACHE_SECONDS", 2, 0, 600)),
        at_username=env.get("TIKITI_AT_USERNAME", "").strip(),
        at_api_key=env.get("TIKITI_AT_API_KEY", "").strip(),
        at_sender_id=env.get("TIKITI_AT_SENDER_ID", "").strip(),
        at_base_url=env.get("TIKITI_AT_BASE_URL", "").strip(),
    )
