"""An HTTP client against the real application, on the run's database and Redis."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import TEST_SECRET
from tests.e2e.admin import Tenant, make_tenant
from tikiti.config import Settings
from tikiti.core import payment_accounts
from tikiti.core.db import Database
from tikiti.core.signing import KeyBox
from tikiti.payments.routes import PAYMENTS
from tikiti.payments.sandbox import derived_credentials
from tikiti.payments.service import Payments
from tikiti.web import create_app


def settings_for(database_url: str, redis_url: str, prefix: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=TEST_SECRET,
        environment="test",
        redis_prefix=prefix,
        db_pool_size=5,
        listing_cache_seconds=0.0,  # tests add events between hops and must see them at once
    )


@pytest.fixture
async def client(
    database_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[TestClient[object, object]]:
    app = create_app(settings_for(database_url, redis_url, redis_prefix))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@dataclass
class Live:
    """The whole app on a real port, so providers (the sandbox operator) can call it back."""

    url: str
    app: web.Application
    http: aiohttp.ClientSession

    @property
    def payments(self) -> Payments:
        return self.app[PAYMENTS]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Live]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        public_url=url, sandbox_enabled=True
    )
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Live(url, app, http)
    finally:
        await server.close()


async def sandbox_account(
    db: Database, keybox: KeyBox, organizer_id: int, base_url: str, **options: str
) -> dict[str, str]:
    credentials = {**derived_credentials(TEST_SECRET, f"{base_url}/sandbox"), **options}
    async with db.transaction() as session:
        await payment_accounts.save(
            session,
            keybox,
            organizer_id=organizer_id,
            provider="sandbox",
            methods=["ecocash", "onemoney"],
            credentials=credentials,
            live=False,
            actor="test",
        )
    return credentials


@pytest.fixture
async def fresh_address(redis_url: str, redis_prefix: str) -> AsyncIterator[None]:
    """Admin tests all sign in from 127.0.0.1: its per-address count must not leak across
    tests (the admin test modules use it for every test)."""
    yield
    client = aioredis.from_url(redis_url)
    try:
        await client.delete(f"{redis_prefix}rate:login:address:127.0.0.1")
    finally:
        await client.aclose()


@pytest.fixture
async def tenant(db: Database, keybox: KeyBox) -> Tenant:
    """An organizer with its owner, a box office clerk, an event and an order (admin tests)."""
    return await make_tenant(db, keybox, "Alpha")
