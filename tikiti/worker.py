"""Background jobs: for now, the sweeper that returns expired holds to the inventory."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tikiti.core import orders
from tikiti.core.db import Database

logger = logging.getLogger(__name__)
SWEEP_INTERVAL = 5.0


async def sweep_once(database: Database) -> int:
    async with database.transaction() as session:
        expired = await orders.expire_due(session)
    if expired:
        logger.info("expired %d lapsed holds", len(expired))
    return len(expired)


async def run(database: Database, stop: asyncio.Event, *, interval: float = SWEEP_INTERVAL) -> None:
    """Loop until `stop` is set; a failed round is logged and retried, never fatal."""
    while not stop.is_set():
        try:
            while await sweep_once(database) and not stop.is_set():
                pass  # a full batch: more may be due right away
        except Exception:
            logger.exception("hold sweep failed; retrying in %.0fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
