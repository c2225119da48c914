"""Health and metrics, as a load balancer and Prometheus see them."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from tests.e2e.conftest import settings_for
from tikiti.web import create_app


async def test_healthz_is_ok_when_database_and_redis_answer(
    client: TestClient[object, object],
) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"database": "ok", "redis": "ok"}


async def test_healthz_names_what_is_unreachable(database_url: str, redis_prefix: str) -> None:
    app = create_app(settings_for(database_url, "redis://127.0.0.1:1/0", redis_prefix))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {"database": "ok", "redis": "unreachable"}


async def test_metrics_speak_prometheus_text_and_count_requests(
    client: TestClient[object, object],
) -> None:
    await client.get("/healthz")
    await client.get("/no-such-page")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    body = await response.text()
    assert 'tikiti_http_requests_total{route="/healthz",status="200"} 1.0' in body
    assert 'route="unmatched",status="404"' in body
    assert "tikiti_http_request_seconds_bucket" in body


async def test_oversized_bodies_are_refused(client: TestClient[object, object]) -> None:
    response = await client.post("/healthz", data=b"x" * (300 * 1024))
    assert response.status in (405, 413)
