"""A pretend SMS network for demos and training: messages land in a phone's inbox in Redis."""

from __future__ import annotations

import json
import re
import secrets
import time

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tikiti.core.ports import DeliveryError, Outgoing
from tikiti.typedefs import REDIS, SETTINGS

INBOX_SIZE = 50
INBOX_TTL = 24 * 3600
PHONE = re.compile(r"^\+\d{8,15}$")


def inbox_key(prefix: str, phone: str) -> str:
    return f"{prefix}sandbox:sms:{phone}"


class SandboxSms:
    """A MessageSender that 'delivers' into an inbox the phone simulator can read."""

    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix

    async def send(self, message: Outgoing) -> str:
        message_id = "SMS" + secrets.token_hex(8).upper()
        entry = {
            "id": message_id,
            "body": message.body,
            "media_url": message.media_url,
            "at": time.time(),
        }
        key = inbox_key(self.prefix, message.address)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lpush(key, json.dumps(entry))
                pipe.ltrim(key, 0, INBOX_SIZE - 1)
                pipe.expire(key, INBOX_TTL)
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise DeliveryError(f"sandbox inbox unavailable: {error}") from None
        return message_id


async def inbox(request: web.Request) -> web.Response:
    """Newest first; the demo's phone simulator shows these as received SMS."""
    phone = request.match_info["msisdn"]
    if not PHONE.match(phone):
        return web.json_response({"error": "phone must be in +E.164 form"}, status=400)
    key = inbox_key(request.app[SETTINGS].redis_prefix, phone)
    raw = await request.app[REDIS].lrange(key, 0, INBOX_SIZE - 1)
    return web.json_response({"messages": [json.loads(item) for item in raw]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sandbox-sms/{msisdn}", inbox, name="sandbox_sms_inbox")
