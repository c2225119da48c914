"""Which sender carries each channel's messages, chosen from the settings: one place, used
by the worker (the outbox) and the web process (replies sent the moment they are written)."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from tikiti.channels.sms_africastalking import AfricasTalkingSms
from tikiti.channels.sms_sandbox import SandboxSms
from tikiti.config import Settings
from tikiti.core.ports import MessageSender

logger = logging.getLogger(__name__)


def senders_for(settings: Settings, redis: Redis) -> dict[str, MessageSender]:
    """Where each channel's messages go: Africa's Talking when configured, else the sandbox."""
    sms: MessageSender
    if settings.at_username and settings.at_api_key:
        sms = AfricasTalkingSms(
            settings.at_username,
            settings.at_api_key,
            sender_id=settings.at_sender_id,
            base_url=settings.at_base_url,
        )
    elif settings.sandbox_enabled:
        sms = SandboxSms(redis, settings.redis_prefix)
    else:
        logger.warning("no SMS provider configured: SMS messages wait in the outbox")
        return {}
    # USSD has no way to push a message later, and an agent's buyer may have written to us
    # on no channel at all: their tickets go by SMS.
    return {"sms": sms, "ussd": sms, "agent": sms}
