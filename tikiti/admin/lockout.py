"""Refusing password guessing: failed sign-ins are counted per email and per address.

Counters live in Redis with an expiry, so every `serve` process sees the same count and a
pause ends by itself. The count that reaches the limit starts a full pause, so the fifth
failure at minute fourteen still pauses for fifteen minutes, not one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Limits:
    per_email: int = 5
    per_address: int = 20
    window_seconds: int = 15 * 60


def locked(email_failures: int, address_failures: int, limits: Limits) -> bool:
    return email_failures >= limits.per_email or address_failures >= limits.per_address


def minutes_left(seconds: int) -> int:
    """What the refusal says: whole minutes, rounded up, at least one."""
    return max(1, -(-seconds // 60))


class LoginThrottle:
    def __init__(self, redis: Redis, prefix: str = "", limits: Limits = Limits()) -> None:
        self.redis, self.prefix, self.limits = redis, prefix, limits

    def _keys(self, email: str, address: str) -> tuple[str, str]:
        # Hashed: an email typed into the form is not a safe Redis key, nor worth keeping.
        email_hash = hashlib.sha256(email.encode()).hexdigest()[:32]
        return (
            f"{self.prefix}rate:login:email:{email_hash}",
            f"{self.prefix}rate:login:address:{address}",
        )

    async def refused(self, email: str, address: str) -> int | None:
        """Seconds until signing in is allowed again, or None when it is allowed now."""
        by_email, by_address = self._keys(email, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(by_email)
            pipe.get(by_address)
            pipe.ttl(by_email)
            pipe.ttl(by_address)
            email_count, address_count, email_ttl, address_ttl = await pipe.execute()
        email_failures, address_failures = int(email_count or 0), int(address_count or 0)
        if not locked(email_failures, address_failures, self.limits):
            return None
        waits = []
        if email_failures >= self.limits.per_email:
            waits.append(int(email_ttl))
        if address_failures >= self.limits.per_address:
            waits.append(int(address_ttl))
        return max(1, *waits)

    async def failed(self, email: str, address: str) -> None:
        window = self.limits.window_seconds
        keys = self._keys(email, address)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=window, nx=True)  # the window opens at the first failure
                pipe.incr(key)
            results = await pipe.execute()
        counts = results[1::2]
        reached = [
            key
            for key, count, limit in zip(
                keys, counts, (self.limits.per_email, self.limits.per_address), strict=True
            )
            if int(count) >= limit
        ]
        if reached:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in reached:
                    pipe.expire(key, window)
                await pipe.execute()

    async def succeeded(self, email: str) -> None:
        """The person knows the password: their email's count starts again (the address's
        does not, or one valid account would let an address guess at every other)."""
        await self.redis.delete(self._keys(email, "")[0])
