"""The aiohttp application factory: wires settings, database, Redis and every route."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from tikiti.admin import app as admin_app
from tikiti.admin import gate_api
from tikiti.channels import (
    media,
    sms_africastalking,
    sms_sandbox,
    telegram,
    twilio_routes,
    ussd_africastalking,
    watch,
)
from tikiti.channels.base import CALLBACK_TOKEN, DIALOG
from tikiti.config import Settings
from tikiti.conversations import Conversations
from tikiti.core.db import Database, make_engine
from tikiti.core.links import Links
from tikiti.core.redis_link import RedisLink
from tikiti.core.signing import KeyBox
from tikiti.core.store import RedisStore
from tikiti.dialogs.engine import Engine
from tikiti.observability import HttpMetrics, healthz, metrics, metrics_middleware
from tikiti.payments.routes import PAYMENTS
from tikiti.payments.routes import add_routes as add_payment_routes
from tikiti.payments.sandbox import derived_credentials
from tikiti.payments.sandbox_operator import Operator, OperatorConfig
from tikiti.payments.sandbox_web import OPERATOR
from tikiti.payments.sandbox_web import add_routes as add_sandbox_routes
from tikiti.payments.service import Payments
from tikiti.providers import PROVIDERS
from tikiti.senders import close_senders, senders_for
from tikiti.typedefs import ADMIN, DATABASE, HTTP, KEYBOX, METRICS, REDIS, SETTINGS

logger = logging.getLogger(__name__)
REDIS_POOL_SIZE = 64
DB_OVERFLOW = 10  # connections above TIKITI_DB_POOL_SIZE that a rush may open
MAX_BODY = 256 * 1024  # webhooks and forms are small; anything bigger is refused with 413

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unexpected errors are logged with their trace and answered without one. A database or
    Redis that cannot be reached is a 503: providers retry those, and nothing was changed."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (SQLAlchemyError, RedisError, OSError) as error:
        logger.warning("%s %s: a service is unavailable: %s", request.method, request.path, error)
        return web.json_response({"error": "temporarily unavailable"}, status=503)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # The cap is the pool size plus DB_OVERFLOW as ever, but every connection opened is kept:
    # an overflow connection is closed as soon as it is returned, and under a rush the next
    # one costs a new PostgreSQL backend and the driver's set-up queries, dozens a second.
    size = settings.db_pool_size + DB_OVERFLOW
    engine = make_engine(settings.database_url, pool_size=size, max_overflow=0)
    # Up to TIKITI_DB_POOL_SIZE connections kept for single-statement reads (Database.read),
    # which a USSD hop does far more often than it writes; at least DB_OVERFLOW stay for the
    # transactions, and any a read keeps but stops using goes back after a few seconds.
    app[DATABASE] = Database(engine, readers=settings.db_pool_size)
    yield
    await app[DATABASE].dispose()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    # A blocking pool queues callers for a moment when all connections are busy (a rush),
    # instead of failing at once as the default pool does.
    pool = BlockingConnectionPool.from_url(
        app[SETTINGS].redis_url,
        max_connections=REDIS_POOL_SIZE,
        timeout=10,
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    app[REDIS] = Redis(connection_pool=pool)
    yield
    await app[REDIS].aclose()


async def _http(app: web.Application) -> AsyncIterator[None]:
    app[HTTP] = aiohttp.ClientSession()
    yield
    await app[HTTP].close()


async def _payments(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[PAYMENTS] = Payments(
        app[DATABASE], app[KEYBOX], PROVIDERS, app[HTTP], public_url=settings.public_url
    )
    yield


async def _dialogs(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # Every conversation step locks, reads and writes its session in Redis: those two scripts
    # go over one pipelined connection (TLS, which RedisLink does not speak, uses the pool).
    link = RedisLink(settings.redis_url) if RedisLink.supports(settings.redis_url) else None
    store = RedisStore(app[REDIS], prefix=settings.redis_prefix, link=link)
    engine = Engine(
        app[DATABASE],
        store,
        app[PAYMENTS],
        default_country=settings.default_country,
        listing_ttl=settings.listing_cache_seconds,
    )
    senders = senders_for(settings, app[REDIS], app[DATABASE])
    links = Links(settings.public_url, settings.secret_key)
    conversations = Conversations(engine, app[PAYMENTS], app[DATABASE], senders, links)
    app[DIALOG] = conversations
    yield
    await conversations.close()
    await close_senders(senders)
    if link is not None:
        await link.close()


async def _sandbox_operator(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    credentials = derived_credentials(settings.secret_key, "")
    config = OperatorConfig(
        credentials["api_key"], credentials["signing_secret"], settings.redis_prefix
    )
    app[OPERATOR] = Operator(app[REDIS], app[HTTP], config)
    yield
    await app[OPERATOR].close()


def _mount_sandbox(app: web.Application) -> None:
    """The pretend mobile-money operator (demo, training, tests; never in production)."""
    sandbox = web.Application()
    add_sandbox_routes(sandbox)
    app.cleanup_ctx.append(_sandbox_operator)
    app.add_subapp("/sandbox", sandbox)


def create_app(settings: Settings) -> web.Application:
    registry = CollectorRegistry()
    # metrics outermost so that errors turned into 500s are counted with their real status.
    app = web.Application(
        middlewares=[metrics_middleware(HttpMetrics(registry)), error_middleware],
        client_max_size=MAX_BODY,
    )
    app[SETTINGS] = settings
    app[METRICS] = registry
    app[KEYBOX] = KeyBox(settings.secret_key)
    app[CALLBACK_TOKEN] = settings.callback_token  # every unsigned gateway's URL carries it
    app.cleanup_ctx.extend([_database, _redis, _http, _payments, _dialogs])
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", metrics, name="metrics")
    add_payment_routes(app)
    ussd_africastalking.add_routes(app, token=settings.callback_token)
    sms_africastalking.add_routes(app)
    twilio_routes.add_routes(app, settings)  # none without a Twilio account
    telegram.add_routes(app)  # 404 without a bot
    media.add_routes(app)
    watch.add_routes(app)
    gate_api.add_routes(app)
    app[ADMIN] = admin_app.mount(app)  # /admin/…: organizer admin and the gate page
    if settings.sandbox_enabled:
        _mount_sandbox(app)
        sms_sandbox.add_routes(app)
    return app
