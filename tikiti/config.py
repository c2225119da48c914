"""Settings from TIKITI_* environment variables: validated once at start, frozen, passed down."""

from __future__ import annotations

import os
import re
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
class TwilioSettings:
    """One Twilio account carrying SMS, WhatsApp or both; absent when not configured."""

    account_sid: str
    auth_token: str = field(repr=False)
    sms_from: str = ""  # +E.164 number, or a Messaging Service SID (MG…); empty: no Twilio SMS
    whatsapp_from: str = ""  # whatsapp:+E.164; empty: no WhatsApp
    whatsapp_template: str = ""  # Content SID (HX…) sent outside the 24-hour window
    webhook_secret: str = field(default="", repr=False)  # a SharedKey's, if webhooks use one
    base_url: str = ""  # empty: Twilio's own API; tests point it at a fake


@dataclass(frozen=True)
class TelegramSettings:
    """One Telegram bot; absent when not configured (no webhook route, no sender)."""

    token: str = field(repr=False)
    secret: str = field(repr=False)  # Telegram echoes it in X-Telegram-Bot-Api-Secret-Token
    base_url: str = ""  # empty: https://api.telegram.org/bot; tests point it at a fake


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
    twilio: TwilioSettings | None = None
    telegram: TelegramSettings | None = None

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


_TWILIO_SHAPES = {
    "TIKITI_TWILIO_ACCOUNT_SID": (r"AC[0-9a-fA-F]{32}", "an Account SID: AC and 32 hex digits"),
    "TIKITI_TWILIO_SMS_FROM": (
        r"\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32}",
        "a +E.164 number or a Messaging Service SID (MG…)",
    ),
    "TIKITI_TWILIO_WHATSAPP_FROM": (r"whatsapp:\+[1-9]\d{6,14}", "whatsapp:+E.164"),
    "TIKITI_TWILIO_WHATSAPP_TEMPLATE": (
        r"HX[0-9a-fA-F]{32}",
        "a Content SID: HX and 32 hex digits",
    ),
}


def _shaped(name: str, value: str) -> str:
    pattern, shape = _TWILIO_SHAPES[name]
    if value and not re.fullmatch(pattern, value):
        raise SettingsError(f"{name} must be {shape}")
    return value


def _twilio(env: Mapping[str, str]) -> TwilioSettings | None:
    """None when no TIKITI_TWILIO_* is set: then no Twilio route or sender exists at all."""
    values = {k: v.strip() for k, v in env.items() if k.startswith("TIKITI_TWILIO_") and v.strip()}
    if not values:
        return None
    whatsapp_from = values.get("TIKITI_TWILIO_WHATSAPP_FROM", "")
    if whatsapp_from.startswith("+"):  # the number alone is clear enough
        values["TIKITI_TWILIO_WHATSAPP_FROM"] = "whatsapp:" + whatsapp_from
    for name in _TWILIO_SHAPES:
        _shaped(name, values.get(name, ""))
    twilio = TwilioSettings(
        account_sid=_required(values, "TIKITI_TWILIO_ACCOUNT_SID"),
        auth_token=_required(values, "TIKITI_TWILIO_AUTH_TOKEN"),
        sms_from=values.get("TIKITI_TWILIO_SMS_FROM", ""),
        whatsapp_from=values.get("TIKITI_TWILIO_WHATSAPP_FROM", ""),
        whatsapp_template=values.get("TIKITI_TWILIO_WHATSAPP_TEMPLATE", ""),
        webhook_secret=values.get("TIKITI_TWILIO_WEBHOOK_SECRET", ""),
        base_url=_optional_url(values, "TIKITI_TWILIO_BASE_URL"),
    )
    if not (twilio.sms_from or twilio.whatsapp_from):
        raise SettingsError("TIKITI_TWILIO_SMS_FROM or TIKITI_TWILIO_WHATSAPP_FROM must be set")
    if twilio.whatsapp_template and not twilio.whatsapp_from:
        raise SettingsError("TIKITI_TWILIO_WHATSAPP_TEMPLATE needs TIKITI_TWILIO_WHATSAPP_FROM")
    return twilio


def _optional_url(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip().rstrip("/")
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise SettingsError(f"{name} must start with http:// or https://")
    return value


# What Telegram accepts as a webhook's secret_token.
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _telegram(env: Mapping[str, str], environment: Environment) -> TelegramSettings | None:
    """None without a token; with one, the webhook secret is required, or anyone who guessed
    the URL could speak for any linked chat."""
    token = env.get("TIKITI_TELEGRAM_TOKEN", "").strip()
    secret = env.get("TIKITI_TELEGRAM_SECRET", "").strip()
    if not token:
        if secret:
            raise SettingsError("TIKITI_TELEGRAM_SECRET is set but TIKITI_TELEGRAM_TOKEN is not")
        return None
    if not TELEGRAM_SECRET.fullmatch(secret):
        raise SettingsError(
            "TIKITI_TELEGRAM_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    if environment == "production" and len(secret) < 16:
        raise SettingsError("TIKITI_TELEGRAM_SECRET must be at least 16 characters")
    return TelegramSettings(token, secret, base_url=_optional_url(env, "TIKITI_TELEGRAM_BASE_URL"))


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
        twilio=_twilio(env),
        telegram=_telegram(env, environment),
    )
