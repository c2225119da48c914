"""Running many buyers at once over many real PostgreSQL connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg

from tikiti.core.db import Database, make_engine

T = TypeVar("T")
HEADROOM = 12  # connections left for the rest of the test run and for other clients


async def available_connections(server_url: str, wanted: int) -> int:
    """As many connections as wanted, or as many as the server can spare."""
    connection = await asyncpg.connect(server_url)
    try:
        limit = int(await connection.fetchval("SHOW max_connections"))
        reserved = int(await connection.fetchval("SHOW superuser_reserved_connections"))
        used = int(await connection.fetchval("SELECT count(*) FROM pg_stat_activity"))
    finally:
        await connection.close()
    return max(2, min(wanted, limit - reserved - used - HEADROOM))


async def race(
    database_url: str,
    connections: int,
    attempts: Sequence[Callable[[Database], Awaitable[T]]],
) -> list[T | BaseException]:
    """Open `connections` real connections first, then release every attempt at once."""
    database = Database(make_engine(database_url, pool_size=connections, max_overflow=0))
    try:
        opened = asyncio.Barrier(connections)

        async def warm() -> None:
            async with database.session() as session:
                await session.connection()
                await opened.wait()

        await asyncio.gather(*(warm() for _ in range(connections)))
        start = asyncio.Event()

        async def run(attempt: Callable[[Database], Awaitable[T]]) -> T:
            await start.wait()
            return await attempt(database)

        tasks = [asyncio.ensure_future(run(a)) for a in attempts]
        await asyncio.sleep(0)
        start.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))
    finally:
        await database.dispose()
