"""A database that cannot be reached is answered 503 (providers retry), never a 500."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import TEST_SECRET
from tests.e2e.conftest import settings_for
from tikiti.core import media
from tikiti.web import create_app


async def test_an_unreachable_database_is_a_503(redis_url: str, redis_prefix: str) -> None:
    nowhere = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    app = create_app(settings_for(nowhere, redis_url, redis_prefix))
    async with TestClient(TestServer(app)) as client:
        token = media.token(TEST_SECRET, 1, 1)
        response = await client.get(f"/t/{token}.png")
        assert response.status == 503
        assert await response.json() == {"error": "temporarily unavailable"}
