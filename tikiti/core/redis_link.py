"""One Redis connection a process shares for the dialog's session scripts, commands pipelined.

redis-py takes a pooled connection for every command and reads each reply under its own
timeout; at a USSD rush that bookkeeping cost more CPU than the rest of a step's Redis work.
Replies are parsed by hiredis; only the pipelining and its failure handling are ours.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT


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
