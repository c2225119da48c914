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
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT


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


def _reply_error(message: str) -> ResponseError:
    return NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)


def _pack(args: tuple[EncodableT, ...]) -> bytes:
    """One command in RESP, the form Redis reads."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int | float):
            data = repr(arg).encode()
        else:
            data = bytes(arg)
        parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


class _Pipeline(asyncio.Protocol):
    """One connection: commands are written in order and their replies matched in order. What
    every caller asks during one turn of the event loop goes out in one write."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._parser = hiredis.Reader(replyError=_reply_error)
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()  # with when sent
        self._outgoing: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._watch: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not registered as asyncio.Transport subclasses).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        while True:
            try:
                reply = self._parser.gets()
            except hiredis.HiredisError as error:  # a protocol error: nothing after it is sure
                self._abort(RedisConnectionError(f"unreadable reply from Redis: {error}"))
                return
            if reply is False:
                return
            if not self._waiting:  # a reply nobody asked for: the stream is out of step
                self._abort(RedisConnectionError("unexpected reply from Redis"))
                return
            waiter = self._waiting.popleft()[0]
            if waiter.done():  # its caller was cancelled; the reply is still consumed in turn
                continue
            if isinstance(reply, ResponseError):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"Redis connection lost: {exc or 'closed'}"))

    def send(self, args: tuple[EncodableT, ...]) -> asyncio.Future[Any]:
        if self.closed:
            raise RedisConnectionError("Redis connection closed")
        waiter = self._loop.create_future()
        now = self._loop.time()
        self._waiting.append((waiter, now))
        self._outgoing.append(_pack(args))
        if len(self._outgoing) == 1:
            self._loop.call_soon(self._flush)
        if self._watch is None:
            self._watch = self._loop.call_at(now + self._timeout, self._check)
        return waiter

    def _flush(self) -> None:
        if self._transport is not None and self._outgoing:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def _check(self) -> None:
        """A watch on the oldest unanswered command, rather than a timer for each one."""
        self._watch = None
        if not self._waiting:
            return
        oldest = self._waiting[0][1]
        if self._loop.time() - oldest >= self._timeout:
            self._abort(RedisTimeoutError(f"Redis did not answer in {self._timeout:g}s"))
        else:
            self._watch = self._loop.call_at(oldest + self._timeout, self._check)

    def _abort(self, error: RedisError) -> None:
        self._fail(error)
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, error: RedisError) -> None:
        self.closed = True
        self._outgoing.clear()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self._waiting:
            waiter = self._waiting.popleft()[0]
            if not waiter.done():
                waiter.set_exception(error)

    def close(self) -> None:
        self._fail(RedisConnectionError("Redis connection closed"))
        if self._transport is not None:
            self._transport.close()


def _consume_outcome(task: asyncio.Task[Any]) -> None:
    """Marks a connection attempt's failure as seen, for when every caller has given up on it."""
    if not task.cancelled():
        task.exception()


class RedisLink:
    """One Redis connection that every request of the process shares, commands pipelined.

    redis-py takes a pooled connection per command and reads its reply under its own timeout,
    about 50 µs of CPU each; here a command is a future in a queue and the whole loop turn's
    commands one write, a few µs each. Only for commands that answer at once (no blocking
    reads, no transactions spanning calls). A lost connection fails what was in flight and the
    next call opens a new one; a command unanswered after `timeout` seconds fails, and with it
    the connection, since every later reply would be behind it."""

    def __init__(self, url: str, *, timeout: float = 2.0, connect_timeout: float = 2.0) -> None:
        options = parse_url(url)
        if "connection_class" in options and "path" not in options:
            raise ValueError("RedisLink speaks plain TCP or a unix socket, not TLS")
        self._path: str | None = options.get("path")
        self._host: str = options.get("host", "localhost")
        self._port: int = int(options.get("port", 6379))
        self._setup: list[tuple[EncodableT, ...]] = []
        if options.get("password") is not None:
            user = (options["username"],) if options.get("username") else ()
            self._setup.append((b"AUTH", *user, options["password"]))
        if int(options.get("db", 0)):
            self._setup.append((b"SELECT", int(options["db"])))
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._pipeline: _Pipeline | None = None
        self._opening: asyncio.Task[_Pipeline] | None = None

    @staticmethod
    def supports(url: str) -> bool:
        return url.startswith(("redis://", "unix://"))

    async def call(self, *args: EncodableT) -> Any:
        pipeline = self._pipeline
        if pipeline is None or pipeline.closed:
            pipeline = await self._open()
        return await pipeline.send(args)

    async def _open(self) -> _Pipeline:
        # Callers that find no connection share one attempt to open it. An attempt that ended
        # after all its callers gave up is not theirs to reuse: its failure would be stale.
        if self._opening is None or self._opening.done():
            self._opening = asyncio.ensure_future(self._connect())
            self._opening.add_done_callback(_consume_outcome)
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done() and self._opening is opening:
                self._opening = None

    async def _connect(self) -> _Pipeline:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._path is not None:
                    _, pipeline = await loop.create_unix_connection(
                        lambda: _Pipeline(loop, self._timeout), self._path
                    )
                else:
                    _, pipeline = await loop.create_connection(
                        lambda: _Pipeline(loop, self._timeout), self._host, self._port
                    )
        except TimeoutError:
            raise RedisTimeoutError("timed out connecting to Redis") from None
        except OSError as error:
            raise RedisConnectionError(f"cannot connect to Redis: {error}") from error
        try:
            for command in self._setup:
                await pipeline.send(command)
        except BaseException:
            pipeline.close()
            raise
        self._pipeline = pipeline
        return pipeline

    async def close(self) -> None:
        if self._opening is not None:
            self._opening.cancel()
            self._opening = None
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
