"""A pretend mobile-money operator for demos, training and tests: pushes, PIN prompts, callbacks.

It behaves like the real ones: a push is answered at once, the payer approves or declines on
the phone (or it happens by itself after a delay, failing at a configured rate), the result is
POSTed to the merchant's callback URL with an HMAC signature, and a status query tells the same
story. State lives in Redis so that several `serve` processes agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from redis.asyncio import Redis

logger = logging.getLogger(__name__)
TTL = 24 * 3600
CALLBACK_RETRIES = (1.0, 3.0, 9.0)
SIGNATURE_HEADER = "X-Sandbox-Signature"

# Resolve a push once: whoever flips it from pending wins, everyone else sees the outcome.
_RESOLVE = """
if redis.call('HGET', KEYS[1], 'status') == 'pending' then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], 'reason', ARGV[2], 'resolved_at', ARGV[3])
    redis.call('SREM', KEYS[2], ARGV[4])
    return 1
end
return 0
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass(frozen=True)
class OperatorConfig:
    api_key: str
    signing_secret: str
    prefix: str = ""


class Operator:
    def __init__(self, redis: Redis, http: aiohttp.ClientSession, config: OperatorConfig) -> None:
        self.redis = redis
        self.http = http
        self.config = config
        self._resolve = redis.register_script(_RESOLVE)
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, *parts: str) -> str:
        return self.config.prefix + "sandbox:" + ":".join(parts)

    async def push(self, fields: dict[str, str]) -> dict[str, str]:
        """Register a prompt on the payer's phone; the same merchant reference twice is one push."""
        push_id = "SBX" + secrets.token_hex(8).upper()
        if not await self.redis.set(
            self._key("ref", fields["reference"]), push_id, nx=True, ex=TTL
        ):
            existing = _text(await self.redis.get(self._key("ref", fields["reference"])))
            return await self.get(existing) or {"id": existing, "status": "pending"}
        record = {
            **fields,
            "id": push_id,
            "status": "pending",
            "reason": "",
            "created": str(time.time()),
        }
        await self.redis.hset(self._key("push", push_id), mapping=dict(record))  # type: ignore[arg-type]
        await self.redis.expire(self._key("push", push_id), TTL)
        await self.redis.sadd(self._key("phone", fields["phone"]), push_id)
        self._spawn(self._auto(push_id, float(fields["approve_after"]), float(fields["timeout"])))
        return record

    async def _load(self, push_id: str) -> dict[str, str] | None:
        raw = await self.redis.hgetall(self._key("push", push_id))
        return {_text(k): _text(v) for k, v in raw.items()} if raw else None

    async def get(self, push_id: str) -> dict[str, str] | None:
        """The push as it stands; timers also fire on read, so none stays pending forever."""
        record = await self._load(push_id)
        if record is None or record["status"] != "pending":
            return record
        age = time.time() - float(record["created"])
        approve_after = float(record["approve_after"])
        if age >= float(record["timeout"]):
            await self.resolve(push_id, approve=False, reason="timeout")
        elif 0 < approve_after <= age:
            await self.resolve(push_id, approve=not self._fails(record), reason="auto")
        else:
            return record
        return await self._load(push_id)

    @staticmethod
    def _fails(record: dict[str, str]) -> bool:
        roll = int(hashlib.sha256(record["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return roll < float(record.get("failure_rate", "0") or 0)

    async def pending_for(self, phone: str) -> list[dict[str, str]]:
        ids = await self.redis.smembers(self._key("phone", phone))
        records = [await self.get(_text(i)) for i in ids]
        return [r for r in records if r and r["status"] == "pending"]

    async def resolve(self, push_id: str, *, approve: bool, reason: str) -> bool:
        record = await self._load(push_id)
        if not record:
            return False
        phone = record["phone"]
        status = "paid" if approve else "failed"
        if not reason or reason == "auto":
            reason = "approved by payer" if approve else "declined by payer"
        changed = await self._resolve(
            keys=[self._key("push", push_id), self._key("phone", phone)],
            args=[status, reason, str(time.time()), push_id],
        )
        if changed:
            self._spawn(self._deliver(push_id))
        return bool(changed)

    async def refund(self, push_id: str) -> str | None:
        record = await self.get(push_id)
        if record is None or record["status"] != "paid":
            return None
        await self.redis.hset(self._key("push", push_id), "status", "refunded")
        return "SBR" + secrets.token_hex(6).upper()

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _auto(self, push_id: str, approve_after: float, expiry: float) -> None:
        if 0 < approve_after < expiry:
            await asyncio.sleep(approve_after)
            record = await self._load(push_id)
            if record:
                await self.resolve(push_id, approve=not self._fails(record), reason="auto")
            return
        await asyncio.sleep(expiry)
        await self.resolve(push_id, approve=False, reason="timeout")

    def callback_body(self, record: dict[str, str]) -> bytes:
        keys = ("id", "reference", "status", "amount_minor", "currency", "phone", "reason")
        return json.dumps({k: record[k] for k in keys}, separators=(",", ":")).encode()

    async def _deliver(self, push_id: str) -> None:
        """POST the signed result like a real provider: a few retries, then rely on polling."""
        record = await self.get(push_id)
        if record is None:
            return
        body = self.callback_body(record)
        for delay in (0.0, *CALLBACK_RETRIES):
            await asyncio.sleep(delay)
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.config.signing_secret, body, int(time.time())),
            }
            try:
                async with self.http.post(
                    record["callback_url"],
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    if response.status < 500:
                        logger.info("sandbox callback %s answered %s", push_id, response.status)
                        return
            except (aiohttp.ClientError, TimeoutError):
                logger.warning("sandbox callback %s failed; retrying", push_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
