"""Ephemeral state behind a tiny interface: dialog sessions, locks, de-duplication, rate limits.

Nothing here may be the only copy of an order, a payment or a ticket: losing it loses at most
the conversations in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError
from redis.typing import EncodableT

from tikiti.core.redis_link import RedisLink


class _Owners:
    """Lock owners' tokens. A lock needs its token unique, not secret: a random prefix for the
    process (drawn again in a forked child) and a counter, rather than a getrandom() call on
    every conversation step."""

    prefix = secrets.token_bytes(8)
    counter = itertools.count()

    @classmethod
    def reseed(cls) -> None:
        cls.prefix = secrets.token_bytes(8)


os.register_at_fork(after_in_child=_Owners.reseed)


def _owner_token() -> bytes:
    return _Owners.prefix + next(_Owners.counter).to_bytes(8, "big")


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

    async def checkout(
        self, key: str, lock: str, token: bytes, *, ttl: float
    ) -> tuple[bool, bytes | None]:
        """Take `lock` if free and read `key`; (False, None) while someone else holds it."""
        if not await self.add(f"lock:{lock}", token, ttl=ttl):
            return False, None
        return True, await self.get(key)

    async def checkin(self, key: str, value: bytes, *, ttl: float, lock: str, token: bytes) -> None:
        """Write `key` and release `lock` (if still ours)."""
        await self.set(key, value, ttl=ttl)
        await self.delete_if(f"lock:{lock}", token)

    def session(self, key: str, lock: str, *, ttl: float = 5.0, wait: float = 3.0) -> StoreSession:
        """One step of a conversation: lock it, read its state, and write the new state back
        together with the unlock; two store round trips where four would be naive.

        `async with store.session(key, lock) as (value, save)`: `save(data, ttl)` keeps the
        new state for the exit to write (the last call wins); without one, the exit only
        unlocks. Either way the exit runs however the block ends."""
        return StoreSession(self, key, lock, ttl, wait)

    @asynccontextmanager
    async def lock(self, name: str, *, ttl: float = 5.0, wait: float = 3.0) -> AsyncIterator[None]:
        """A short lock with an expiry, so a crashed holder cannot block a phone for long."""
        key, token = f"lock:{name}", _owner_token()
        deadline = time.monotonic() + wait
        while not await self.add(key, token, ttl=ttl):
            if time.monotonic() > deadline:
                raise Busy(name)
            await asyncio.sleep(0.02)
        try:
            yield
        finally:
            await self.delete_if(key, token)


class StoreSession:
    """Store.session's context manager: a plain class, so that no generator has to be driven
    in and out of the block on every conversation step."""

    __slots__ = ("_key", "_lock", "_pending", "_store", "_token", "_ttl", "_wait")

    def __init__(self, store: Store, key: str, lock: str, ttl: float, wait: float) -> None:
        self._store, self._key, self._lock, self._ttl, self._wait = store, key, lock, ttl, wait
        self._token = b""
        self._pending: tuple[bytes, float] | None = None

    async def __aenter__(self) -> tuple[bytes | None, Callable[[bytes, float], None]]:
        token = self._token = _owner_token()
        deadline = time.monotonic() + self._wait
        while True:
            taken, value = await self._store.checkout(self._key, self._lock, token, ttl=self._ttl)
            if taken:
                return value, self._save
            if time.monotonic() > deadline:
                raise Busy(self._lock)
            await asyncio.sleep(0.02)

    def _save(self, data: bytes, keep: float) -> None:
        self._pending = (data, keep)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._pending is not None:
            data, keep = self._pending
            await self._store.checkin(self._key, data, ttl=keep, lock=self._lock, token=self._token)
        else:
            await self._store.delete_if(f"lock:{self._lock}", self._token)


_DELETE_IF = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


_CHECKOUT = (
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "return {1, redis.call('GET', KEYS[2])} end return {0, false}"
)
_CHECKIN = (
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end return 1"
)


class RedisStore(Store):
    """The store on Redis. With a `link` (see RedisLink), the lock scripts (a conversation
    step's checkout and checkin, delete_if) go over it; everything else, and without one
    everything, goes through the redis-py client."""

    def __init__(self, redis: Redis, prefix: str = "", *, link: RedisLink | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.link = link
        self._delete_if = redis.register_script(_DELETE_IF)
        self._checkout = redis.register_script(_CHECKOUT)
        self._checkin = redis.register_script(_CHECKIN)

    async def _run(self, script: AsyncScript, keys: tuple[str, ...], *args: EncodableT) -> Any:
        """EVALSHA: what AsyncScript.__call__ does, less its per-call bookkeeping, on every hop.
        A server that lost the script (a restart, SCRIPT FLUSH) gets it loaded again, as
        AsyncScript would."""
        link = self.link
        if link is None:
            try:
                return await self.redis.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                script.sha = await self.redis.script_load(script.script)
                return await self.redis.evalsha(script.sha, len(keys), *keys, *args)
        try:
            return await link.call(b"EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            script.sha = (await link.call(b"SCRIPT", b"LOAD", script.script)).decode()
            return await link.call(b"EVALSHA", script.sha, len(keys), *keys, *args)

    async def checkout(
        self, key: str, lock: str, token: bytes, *, ttl: float
    ) -> tuple[bool, bytes | None]:
        prefix = self.prefix
        try:
            taken, value = await self._run(
                self._checkout, (f"{prefix}lock:{lock}", prefix + key), token, int(ttl * 1000)
            )
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error
        if not taken:
            return False, None
        return True, value if value is None or isinstance(value, bytes) else str(value).encode()

    async def checkin(self, key: str, value: bytes, *, ttl: float, lock: str, token: bytes) -> None:
        prefix = self.prefix
        try:
            await self._run(
                self._checkin, (prefix + key, f"{prefix}lock:{lock}"), value, int(ttl * 1000), token
            )
        except (RedisError, OSError) as error:
            raise StoreUnavailable(str(error)) from error

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
            await self._run(self._delete_if, (self.prefix + key,), value)
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
