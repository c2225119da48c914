"""Database.read(), which lends kept autocommit connections, and Query/fetch, the plain-asyncpg
path for hot reads; on the run's own database.

Each test makes its own engine, its connections named by a unique application_name, so that
pg_stat_activity shows just what that test's Database holds open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

import tikiti.core.db as db_module
from tikiti.core.db import Database, Query, fetch

PID = Query("SELECT pg_backend_pid()")

Opened = tuple[Database, str]


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    yield connection
    await connection.close()


@pytest.fixture
async def open_database(database_url: str) -> AsyncIterator[Callable[..., Opened]]:
    opened: list[Database] = []

    def make(*, readers: int, pool_size: int = 5, max_overflow: int = 5) -> Opened:
        name = f"tikiti-reads-{secrets.token_hex(4)}"
        engine = create_async_engine(
            database_url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_args={"server_settings": {"application_name": name}},
        )
        database = Database(engine, readers=readers)
        opened.append(database)
        return database, name

    yield make
    for database in opened:
        await database.dispose()


NOW = Query("SELECT now()")


async def autocommits(reader: AsyncConnection) -> bool:
    """Whether each statement is its own transaction (now() is when the transaction began),
    through SQLAlchemy, which would otherwise begin one, and through fetch()."""
    first = (await reader.execute(NOW.clause)).scalar_one()
    await asyncio.sleep(0.01)
    second = (await reader.execute(NOW.clause)).scalar_one()
    await asyncio.sleep(0.01)
    third = (await fetch(reader, NOW))[0][0]
    return bool(first < second < third)


async def backend(database: Database) -> int:
    async with database.read() as reader:
        return int((await fetch(reader, PID))[0][0])


def checked_out(database: Database) -> int:
    """Connections out of the pool: the kept ones, when no read is under way."""
    return int(database.engine.pool.checkedout())  # type: ignore[attr-defined]


async def connections(admin: asyncpg.Connection, name: str) -> int:
    return int(
        await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name
        )
    )


async def gone(admin: asyncpg.Connection, pid: int) -> bool:
    """Whether the backend has ended."""
    return not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)


async def settle(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Waits for the server to notice (a closed connection leaves pg_stat_activity shortly)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "not settled in time"
        await asyncio.sleep(0.02)


async def test_a_kept_connection_serves_read_after_read(
    open_database: Callable[..., Opened],
) -> None:
    database, _ = open_database(readers=2)
    pids = {await backend(database) for _ in range(10)}
    assert len(pids) == 1
    assert checked_out(database) == 1  # kept out of the pool between reads
    async with database.read() as reader:
        rows = await fetch(reader, PID)
        assert await autocommits(reader)
    assert isinstance(rows[0], asyncpg.Record)  # asyncpg's own rows: SQLAlchemy not in the way


async def test_without_readers_nothing_is_kept(open_database: Callable[..., Opened]) -> None:
    database, _ = open_database(readers=0)
    for _ in range(3):
        async with database.read() as reader:
            rows = await fetch(reader, PID)
            assert await autocommits(reader)
        assert checked_out(database) == 0
    assert not isinstance(rows[0], asyncpg.Record)  # through SQLAlchemy


async def test_never_more_kept_than_readers(
    open_database: Callable[..., Opened], admin: asyncpg.Connection
) -> None:
    database, name = open_database(readers=2, pool_size=10, max_overflow=0)
    together = asyncio.Barrier(6)

    async def hold() -> int:
        async with database.read() as reader:
            await together.wait()  # six reads under way at once
            return int((await fetch(reader, PID))[0][0])

    first = await asyncio.gather(*(hold() for _ in range(6)))
    assert len(set(first)) == 6
    assert checked_out(database) == 2
    # Later reads, even two at a time, go to the kept two.
    for _ in range(3):
        assert set(await asyncio.gather(backend(database), backend(database))) <= set(first)
    assert checked_out(database) == 2
    assert await connections(admin, name) == 6  # the other four went back to the pool, open


async def test_a_kept_connection_unused_for_long_goes_back(
    open_database: Callable[..., Opened], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "READER_IDLE", 0.3)
    database, _ = open_database(readers=2)
    together = asyncio.Barrier(2)

    async def hold() -> None:
        async with database.read():
            await together.wait()

    await asyncio.gather(hold(), hold())
    assert checked_out(database) == 2
    await backend(database)
    assert checked_out(database) == 2  # both recently used
    await asyncio.sleep(0.4)
    # Each read hands back at most one connection idle too long (here: the one it did not use).
    await backend(database)
    assert checked_out(database) == 1
    await backend(database)
    assert checked_out(database) == 1


async def test_a_failed_statement_discards_the_connection(
    open_database: Callable[..., Opened], admin: asyncpg.Connection
) -> None:
    database, name = open_database(readers=2)
    together = asyncio.Barrier(2)

    async def hold() -> None:
        async with database.read():
            await together.wait()

    await asyncio.gather(hold(), hold())
    assert checked_out(database) == 2

    with pytest.raises(DBAPIError) as raised:
        async with database.read() as reader:
            failed = int((await fetch(reader, PID))[0][0])
            await fetch(reader, Query("SELECT no_such_column FROM pg_class"))
    assert isinstance(raised.value.orig, asyncpg.UndefinedColumnError)
    # Neither is kept now: the idle one went back to the pool, the failed one is closed.
    assert checked_out(database) == 0

    await settle(functools.partial(gone, admin, failed))
    assert await connections(admin, name) == 1
    assert await backend(database) != failed
    assert checked_out(database) == 1


async def test_reads_recover_from_a_connection_the_server_ended(
    open_database: Callable[..., Opened], admin: asyncpg.Connection
) -> None:
    database, _ = open_database(readers=1, pool_size=1, max_overflow=0)
    pid = await backend(database)
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    await asyncio.sleep(0.1)
    # The first read may find out the hard way; after it, reads work again on a new backend.
    with contextlib.suppress(DBAPIError):
        await backend(database)
    for _ in range(3):
        assert await backend(database) != pid


async def test_a_cancelled_read_discards_its_connection_and_reads_go_on(
    open_database: Callable[..., Opened], admin: asyncpg.Connection
) -> None:
    database, name = open_database(readers=1)
    await backend(database)

    async def sleeper(fast: bool, started: asyncio.Future[int]) -> None:
        async with database.read() as reader:
            started.set_result(int((await fetch(reader, PID))[0][0]))
            if fast:
                await fetch(reader, Query("SELECT pg_sleep(30)"))
            else:
                await reader.execute(text("SELECT pg_sleep(30)"))

    for fast in (True, False):
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(sleeper(fast, started))
        cancelled = await started
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):  # not behind the cancelled statement's 30 s
            for _ in range(3):
                assert await backend(database) != cancelled
        assert checked_out(database) == 1  # a new one kept in its place
        await settle(functools.partial(gone, admin, cancelled))

    async def nothing_sleeps() -> bool:
        return not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
            name,
        )

    await settle(nothing_sleeps)


async def test_reads_cancelled_while_connecting_do_not_use_up_the_readers(
    open_database: Callable[..., Opened],
) -> None:
    database, _ = open_database(readers=2)
    for _ in range(20):
        task = asyncio.create_task(backend(database))
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    together = asyncio.Barrier(2)

    async def hold() -> None:
        async with database.read():
            await together.wait()

    await asyncio.gather(hold(), hold())
    assert checked_out(database) == 2  # both could still be kept


async def test_dispose_closes_the_kept_connections(
    open_database: Callable[..., Opened], admin: asyncpg.Connection
) -> None:
    database, name = open_database(readers=3, pool_size=3, max_overflow=0)
    together = asyncio.Barrier(3)

    async def hold() -> None:
        async with database.read():
            await together.wait()

    await asyncio.gather(hold(), hold(), hold())
    assert await connections(admin, name) == 3
    await database.dispose()

    async def all_closed() -> bool:
        return await connections(admin, name) == 0

    await settle(all_closed)
    assert checked_out(database) == 0


# --- Query and fetch -----------------------------------------------------------------------------


async def test_fetch_reports_bad_sql_as_sqlalchemy_does(
    open_database: Callable[..., Opened],
) -> None:
    kept, _ = open_database(readers=1)
    unkept, _ = open_database(readers=0)
    bad = Query("SELEC 1")
    for database in (kept, unkept):
        with pytest.raises(DBAPIError):
            async with database.read() as reader:
                await fetch(reader, bad)
        async with database.read() as reader:  # and the next read works
            assert (await fetch(reader, Query("SELECT 1")))[0][0] == 1
    async with unkept.session() as session:
        with pytest.raises(DBAPIError):
            await fetch(session, bad)


QUERIES: list[tuple[str, dict[str, Any], list[tuple[Any, ...]]]] = [
    (
        "SELECT CAST(:a AS int) + CAST(:b AS int), CAST(:a AS int) * 10",
        {"a": 4, "b": 5},
        [(9, 40)],
    ),
    ("SELECT x::text FROM generate_series(1, :n) AS x", {"n": 3}, [("1",), ("2",), ("3",)]),
    ("SELECT CAST(:word AS text) || ':' || 'x'", {"word": "jambo"}, [("jambo:x",)]),
    ("SELECT json_build_object('n', CAST(:n AS int))", {"n": 7}, [({"n": 7},)]),
    (r"SELECT '\:escaped', CAST(:n AS int)", {"n": 1}, [(":escaped", 1)]),
]


@pytest.mark.parametrize(("sql", "params", "expected"), QUERIES)
async def test_a_query_reads_the_same_through_every_reader(
    open_database: Callable[..., Opened],
    sql: str,
    params: dict[str, Any],
    expected: list[tuple[Any, ...]],
) -> None:
    kept, _ = open_database(readers=1)
    unkept, _ = open_database(readers=0)
    query = Query(sql)
    async with kept.read() as reader:
        assert isinstance(reader, AsyncConnection)
        assert [tuple(row) for row in await fetch(reader, query, **params)] == expected
    async with unkept.read() as reader:
        assert [tuple(row) for row in await fetch(reader, query, **params)] == expected
    async with unkept.session() as session:
        assert [tuple(row) for row in await fetch(session, query, **params)] == expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT :a, :b, :a",
        "SELECT x::int, :b FROM (SELECT 1 AS x) AS t",
        "SELECT :a::int",
        "SELECT :a:b",
        r"SELECT '\:a', :b",
    ],
)
def test_a_query_finds_the_names_sqlalchemy_finds(sql: str) -> None:
    query = Query(sql)
    assert list(query.names) == list(query.clause.compile().params)
    # The asyncpg spelling numbers exactly those, and what SQLAlchemy leaves is left alike.
    rendered = str(query.clause.compile())
    for number, name in enumerate(query.names, 1):
        rendered = rendered.replace(f":{name}", f"${number}")
    assert query.sql == rendered
