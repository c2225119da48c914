"""Engine and unit of work: a transaction per request or job that rolls back unless committed."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # untyped; used for its errors and fetch
from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

RECYCLE = 1800.0  # seconds a connection lives, in the pool or kept for reads
READER_IDLE = 5.0  # seconds a connection kept for reads may go unused before it is given back

Reader = AsyncSession | AsyncConnection


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    # No pre-ping: it costs three round trips per checkout. After a PostgreSQL restart the
    # first statement on a dead connection fails, SQLAlchemy invalidates the whole pool, and
    # the next request gets fresh connections.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=int(RECYCLE)
    )


# SQLAlchemy's own rules for text(): which `:name`s are parameters, and `\:` as a plain colon.
_BIND_NAME = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")
_ESCAPED_COLON = re.compile(r"\\(:\w*)(?![:\w])")


class Query:
    """One read statement in two spellings: SQLAlchemy's text() with :names for any reader, and
    asyncpg's own ($1, $2, …) for a connection Database.read() keeps, which runs it without
    SQLAlchemy's execution and result layers (about 100 µs of CPU a statement)."""

    __slots__ = ("clause", "names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(found: re.Match[str]) -> str:
            if found[1] not in names:
                names.append(found[1])
            return f"${names.index(found[1]) + 1}"

        self.clause: TextClause = text(sql)
        # The names text() finds, and its `\:` escapes undone as it does when rendering, so
        # that both spellings read the same statement (`::type` casts are left alone).
        self.sql = _ESCAPED_COLON.sub(r"\1", _BIND_NAME.sub(number, sql))
        self.names = tuple(names)


# The driver connection under each connection Database.read() keeps: while one is lent, fetch()
# may use it directly, since in autocommit there is no transaction of SQLAlchemy's to run in.
_drivers: dict[AsyncConnection, asyncpg.Connection] = {}


async def fetch(reader: Reader, query: Query, **params: Any) -> Sequence[Any]:
    """All rows of `query`; each row indexes and unpacks by column position."""
    driver = _drivers.get(reader) if isinstance(reader, AsyncConnection) else None
    if driver is None:
        return (await reader.execute(query.clause, params)).all()
    values = [params[name] for name in query.names]
    try:
        rows: list[Any] = await driver.fetch(query.sql, *values)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        # Callers handle database failures as SQLAlchemy reports them, whichever path ran.
        raise DBAPIError(query.sql, values, error) from error
    return rows


class Database:
    """Owns the engine; hands out sessions that commit only when the block succeeds.

    Up to `readers` connections, once opened for read(), are kept checked out of the pool and
    lent to one read() after another: a pool checkout and return through SQLAlchemy's async
    layer costs more CPU than the statement it serves. They count against the pool's cap, so
    keep `readers` under it (0, the default, keeps none); one unused for READER_IDLE seconds
    goes back to the pool, where transactions can have it."""

    def __init__(self, engine: AsyncEngine, *, readers: int = 0) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._readers = readers
        self._kept = 0  # kept read connections, lent or idle
        # Idle kept connections, the most recently used last, each with when it was opened and
        # when it was last returned.
        self._idle: list[tuple[AsyncConnection, float, float]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session without an implicit commit, for reads and for callers that commit."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for single-statement reads: autocommit, so no BEGIN/ROLLBACK trips."""
        if self._idle:
            connection, opened, _ = self._idle.pop()
        elif self._kept < self._readers:
            self._kept += 1
            try:
                connection, opened = await self._open_reader()
            except BaseException:
                self._kept -= 1
                raise
        else:
            async with self.engine.connect() as connection:
                yield await connection.execution_options(isolation_level="AUTOCOMMIT")
            return
        try:
            yield connection
            if connection.in_transaction():  # SQLAlchemy's own bookkeeping; no round trip
                await connection.rollback()
        except BaseException:
            # A failed or cancelled statement may have left the connection unusable, and after
            # a database restart every kept one is: open fresh ones as they are needed. The
            # failed one is closed rather than pooled: fetch() bypasses SQLAlchemy, which would
            # otherwise never learn that it is dead and would hand it out again and again.
            await self._drop(connection, broken=True)
            await self._drop_idle()
            raise
        now = time.monotonic()
        if now - opened > RECYCLE:
            await self._drop(connection)
        else:
            self._idle.append((connection, opened, now))
        if self._idle and now - self._idle[0][2] > READER_IDLE:  # one at a time is enough
            await self._drop(self._idle.pop(0)[0])

    async def _open_reader(self) -> tuple[AsyncConnection, float]:
        connection = await self.engine.connect()
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            raw = await connection.get_raw_connection()
        except BaseException:
            await connection.close()
            raise
        if isinstance(raw.driver_connection, asyncpg.Connection):
            _drivers[connection] = raw.driver_connection
        return connection, time.monotonic()

    async def _drop(self, connection: AsyncConnection, *, broken: bool = False) -> None:
        self._kept -= 1
        driver = _drivers.pop(connection, None)
        with suppress(Exception):  # a dead connection may fail to roll back; the pool drops it
            if broken or (driver is not None and driver.is_closed()):
                await connection.invalidate()
            await connection.close()

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection, _, _ in idle:
            await self._drop(connection)

    async def dispose(self) -> None:
        await self._drop_idle()
        await self.engine.dispose()
