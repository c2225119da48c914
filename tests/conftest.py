"""Shared fixtures: a throwaway database and Redis prefix per run, on real servers.

TIKITI_TEST_DATABASE_URL / TIKITI_TEST_REDIS_URL name servers to use (CI points them at the
local ones); otherwise embedded PostgreSQL and Redis are started for the run. Either way the
run creates its own database and key prefix and removes them at the end.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from tikiti import schema
from tikiti.config import normalize_database_url
from tikiti.core.db import Database, make_engine
from tikiti.core.links import Links
from tikiti.core.signing import KeyBox
from tikiti.embedded import EmbeddedServices, EmbeddedUrls

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# Ticket links as the worker makes them, for tests that deliver the outbox themselves.
LINKS = Links("http://tikiti.test", TEST_SECRET)


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def embedded() -> Iterator[EmbeddedUrls | None]:
    if os.environ.get("TIKITI_TEST_DATABASE_URL") and os.environ.get("TIKITI_TEST_REDIS_URL"):
        yield None
        return
    services = EmbeddedServices(Path(tempfile.mkdtemp(prefix="tikiti-test-")), delete_on_stop=True)
    try:
        yield services.start()
    finally:
        services.stop()


@pytest.fixture(scope="session")
def server_url(embedded: EmbeddedUrls | None) -> str:
    """A libpq URL of a maintenance database on the server the tests may use."""
    url = os.environ.get("TIKITI_TEST_DATABASE_URL")
    if url:
        return _libpq(url)
    assert embedded is not None
    return embedded.admin_database_url


async def create_database(server: str) -> tuple[str, str]:
    """Create an empty database on the server; returns (its name, its asyncpg URL)."""
    name = f"tikiti_test_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(server)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, query = server.partition("?")
    prefix = base.rsplit("/", 1)[0]
    url = f"{prefix}/{name}" + (f"?{query}" if query else "")
    return name, normalize_database_url(url)


async def drop_database(server: str, name: str) -> None:
    connection = await asyncpg.connect(server)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    name, url = await create_database(server_url)
    try:
        await schema.upgrade(url)
        yield url
    finally:
        await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(make_engine(database_url, pool_size=10, max_overflow=20))
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def redis_url(embedded: EmbeddedUrls | None) -> str:
    url = os.environ.get("TIKITI_TEST_REDIS_URL")
    if url:
        return url
    assert embedded is not None
    return embedded.redis_url


@pytest.fixture(scope="session")
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    prefix = f"tikiti-test:{secrets.token_hex(6)}:"
    yield prefix
    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def keybox() -> KeyBox:
    return KeyBox(TEST_SECRET)
