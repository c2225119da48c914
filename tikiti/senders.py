"""Which sender carries each channel's messages, chosen from the settings: one place, used
by the worker (the outbox) and the web process (replies sent the moment they are written)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis

from tikiti.channels.sms_africastalking import AfricasTalkingSms
from tikiti.channels.sms_sandbox import SandboxSms
from tikiti.channels.sms_twilio import TwilioSms
from tikiti.channels.telegram_sender import TelegramSender
from tikiti.channels.twilio_common import TwilioApi
from tikiti.channels.whatsapp_twilio import TwilioWhatsApp
from tikiti.channels.whatsapp_window import CustomerWindow
from tikiti.config import Settings
from tikiti.core.db import Database
from tikiti.core.ports import MessageSender
from tikiti.core.store import RedisStore

logger = logging.getLogger(__name__)


def senders_for(settings: Settings, redis: Redis, database: Database) -> dict[str, MessageSender]:
    """Where each channel's messages go. SMS: Africa's Talking when configured, else Twilio,
    else the sandbox (one SMS provider per deployment). WhatsApp: Twilio when configured.
    Telegram: the bot when configured (it finds each phone's chat in the database)."""
    twilio = TwilioApi(settings.twilio, settings.public_url) if settings.twilio else None
    sms: MessageSender | None
    if settings.at_username and settings.at_api_key:
        sms = AfricasTalkingSms(
            settings.at_username,
            settings.at_api_key,
            sender_id=settings.at_sender_id,
            base_url=settings.at_base_url,
        )
    elif twilio is not None and twilio.settings.sms_from:
        sms = TwilioSms(twilio, twilio.settings.sms_from)
    elif settings.sandbox_enabled:
        sms = SandboxSms(redis, settings.redis_prefix)
    else:
        logger.warning("no SMS provider configured: SMS messages wait in the outbox")
        sms = None
    senders = _whatsapp(twilio, sms, RedisStore(redis, prefix=settings.redis_prefix))
    if settings.telegram is not None:
        senders["telegram"] = TelegramSender(
            settings.telegram.token, database, base_url=settings.telegram.base_url
        )
    if sms is None:
        return senders
    # USSD has no way to push a message later, and an agent's buyer may have written to us
    # on no channel at all: their tickets go by SMS.
    return {"sms": sms, "ussd": sms, "agent": sms, **senders}


def _whatsapp(
    twilio: TwilioApi | None, sms: MessageSender | None, store: RedisStore
) -> dict[str, MessageSender]:
    """Outside the 24-hour window WhatsApp falls back to whichever sender carries SMS."""
    if twilio is None or not twilio.settings.whatsapp_from:
        return {}
    whatsapp = TwilioWhatsApp(
        twilio,
        twilio.settings.whatsapp_from,
        CustomerWindow(store),
        template=twilio.settings.whatsapp_template,
        sms=sms,
    )
    return {"whatsapp": whatsapp}


@runtime_checkable
class Closable(Protocol):
    async def close(self) -> None: ...


async def close_senders(senders: Mapping[str, MessageSender]) -> None:
    """Senders holding connections (Twilio's HTTP client) release them at shutdown."""
    for sender in {id(sender): sender for sender in senders.values()}.values():
        if isinstance(sender, Closable):
            await sender.close()
