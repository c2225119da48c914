"""Health and Prometheus metrics, and the middleware that counts every request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text

from tikiti.typedefs import DATABASE, METRICS, REDIS

logger = logging.getLogger(__name__)
HEALTH_TIMEOUT = 2.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tikiti_http_requests_total", "HTTP requests", ["route", "status"], registry=registry
        )
        self.latency = Histogram(
            "tikiti_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        # The labelled children, kept: labels() takes a lock and validates on every call.
        # Routes and statuses are few, so these stay as small as the metrics' own tables.
        self._counters: dict[tuple[str, int], Counter] = {}
        self._timers: dict[str, Histogram] = {}

    def record(self, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((route, status))
        if counter is None:
            counter = self._counters[route, status] = self.requests.labels(route, str(status))
        counter.inc()
        timer = self._timers.get(route)
        if timer is None:
            timer = self._timers[route] = self.latency.labels(route)
        timer.observe(seconds)


def metrics_middleware(metrics: HttpMetrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Label by route template, not by path, so ticket tokens never become label values.
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            metrics.record(name, status, time.perf_counter() - started)

    return middleware


async def _database_ok(request: web.Request) -> bool:
    try:
        async with request.app[DATABASE].session() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), HEALTH_TIMEOUT)
        return True
    except Exception:
        logger.warning("health: database unreachable", exc_info=True)
        return False


async def _redis_ok(request: web.Request) -> bool:
    try:
        return bool(await asyncio.wait_for(request.app[REDIS].ping(), HEALTH_TIMEOUT))
    except Exception:
        logger.warning("health: redis unreachable", exc_info=True)
        return False


async def healthz(request: web.Request) -> web.Response:
    database, redis = await asyncio.gather(_database_ok(request), _redis_ok(request))
    body = {
        "database": "ok" if database else "unreachable",
        "redis": "ok" if redis else "unreachable",
    }
    return web.json_response(body, status=200 if database and redis else 503)


async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS])
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})
