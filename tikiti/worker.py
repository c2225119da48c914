"""Background jobs: the hold sweeper and payment reconciliation, in one loop per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
from redis.asyncio import Redis

from tikiti.config import Settings
from tikiti.core import delivery, orders, reminders, waitlist
from tikiti.core.db import Database, make_engine
from tikiti.core.links import Links
from tikiti.core.signing import KeyBox
from tikiti.payments.reconcile import Reconciler
from tikiti.payments.service import Payments
from tikiti.providers import PROVIDERS
from tikiti.senders import close_senders, senders_for

logger = logging.getLogger(__name__)
INTERVAL = 5.0
MAX_BATCHES = 100  # per round, so one busy job cannot starve the others

Job = Callable[[], Awaitable[int]]


async def sweep_once(database: Database) -> int:
    async with database.transaction() as session:
        expired = await orders.expire_due(session)
    if expired:
        logger.info("expired %d lapsed holds", len(expired))
    return len(expired)


async def offer_waitlists(database: Database) -> int:
    async with database.transaction() as session:
        offered = await waitlist.offer_due(session, now=datetime.now(UTC))
    if offered:
        logger.info("offered %d returned places to waiting lists", offered)
    return offered


async def queue_reminders(database: Database) -> int:
    async with database.transaction() as session:
        queued = await reminders.queue_due(session)
    if queued:
        logger.info("queued %d event reminders", queued)
    return queued


async def _run_job(name: str, job: Job) -> None:
    """Run a job until it has nothing left; a failure is logged and retried next round."""
    try:
        for _ in range(MAX_BATCHES):
            if not await job():
                break
    except Exception:
        logger.exception("%s failed; retrying next round", name)


async def run(
    jobs: Sequence[tuple[str, Job]], stop: asyncio.Event, *, interval: float = INTERVAL
) -> None:
    while not stop.is_set():
        for name, job in jobs:
            await _run_job(name, job)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


@asynccontextmanager
async def jobs_for(settings: Settings, database: Database) -> AsyncIterator[list[tuple[str, Job]]]:
    """The worker's jobs, with the resources they need opened and closed around them."""
    redis = Redis.from_url(settings.redis_url)
    try:
        async with aiohttp.ClientSession() as http:
            payments = Payments(
                database,
                KeyBox(settings.secret_key),
                PROVIDERS,
                http,
                public_url=settings.public_url,
            )
            reconciler = Reconciler(payments)
            senders = senders_for(settings, redis, database)
            links = Links(settings.public_url, settings.secret_key)
            try:
                yield [
                    ("hold sweep", lambda: sweep_once(database)),
                    ("waiting lists", lambda: offer_waitlists(database)),
                    ("payment reconciliation", reconciler.run_once),
                    ("event reminders", lambda: queue_reminders(database)),
                    ("message delivery", lambda: delivery.deliver_batch(database, senders, links)),
                ]
            finally:
                await close_senders(senders)  # Twilio's HTTP client
    finally:
        await redis.aclose()


async def main(settings: Settings, stop: asyncio.Event) -> None:
    database = Database(make_engine(settings.database_url, pool_size=settings.db_pool_size))
    try:
        async with jobs_for(settings, database) as jobs:
            logger.info("worker started: %s", ", ".join(name for name, _ in jobs))
            await run(jobs, stop)
    finally:
        await database.dispose()
        logger.info("worker stopped")
