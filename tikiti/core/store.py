"""Ephemeral state behind a tiny interface: dialog sessions, locks, de-duplication, rate limits.

Nothing here may be the only copy of an order, a payment or a ticket: losing it loses at most
the conversations in flight.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError


class StoreUnavailable(Exception):
    """The store did not answer; callers show 'try again' rather than guess."""


class Busy(Exception):
    """Another request holds the lock (one conversation step at a time)."""


class Store(ABC):
    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set(self, key: str, value: bytes, *, ttl: float) -> None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Set only if absent; True when this call set it."""

    @abstractmethod
    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete only while it still holds `value` (a lock we own)."""

    @asynccontextmanager
    async def lock(self, name: str, *, ttl: float = 5.0, wait: float = 3.0) -> AsyncIterator[None]:
        """A short lock with an expiry, so a crashed holder cannot block a phone for long."""
        key, token = f"lock:{name}", secrets.token_bytes(8)
        deadline = time.monotonic() + wait
        while not await self.add(key, token, ttl=ttl):
            if time.monotonic() > deadline:
                raise Busy(name)
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            await self.delete_if(key, token)


_DELETE_IF = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class RedisStore(Store):
    def __init__(self, redis: Redis, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix
        self._delete_if = redis.register_script(_DELETE_IF)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.redis.get(self.prefix + key)
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, *, ttl: float) -> None:
        try:
            await self.redis.set(self.prefix + key, value, px=int(ttl * 1000))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error

    async def delete(self, key: str) -> None:
        try:
            await self.redis.delete(self.prefix + key)
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error

    async def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        try:
            return bool(await self.redis.set(self.prefix + key, value, px=int(ttl * 1000), nx=True))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error

    async def delete_if(self, key: str, value: bytes) -> None:
        try:
            await self._delete_if(keys=[self.prefix + key], args=[value])
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error


class MemoryStore(Store):
    """For unit tests and single-process tools; same behaviour, expiry included."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float]] = {}

    def _live(self, key: str) -> bytes | None:
        found = self._data.get(key)
        if found is None or found[1] < time.monotonic():
            self._data.pop(key, None)
            return None
        return found[0]

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._data[key] = (value, time.monotonic() + ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl=ttl)
        return True

    async def delete_if(self, key: str, value: bytes) -> None:
        if self._live(key) == value:
            self._data.pop(key, None)
