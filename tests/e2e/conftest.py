"""An HTTP client against the real application, on the run's database and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import TEST_SECRET
from tikiti.config import Settings
from tikiti.web import create_app


def settings_for(database_url: str, redis_url: str, prefix: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=TEST_SECRET,
        environment="test",
        redis_prefix=prefix,
        db_pool_size=5,
    )


@pytest.fixture
async def client(
    database_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[TestClient[object, object]]:
    app = create_app(settings_for(database_url, redis_url, redis_prefix))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
