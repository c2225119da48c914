"""An on-sale rush over USSD: 500 phones at once for 100 tickets, and never one too many."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.e2e.conftest import Live, free_port, sandbox_account, settings_for
from tests.e2e.ussd import Handset
from tests.factories import make_world, phone
from tikiti.core.db import Database
from tikiti.core.models import Tier
from tikiti.core.signing import KeyBox
from tikiti.web import create_app

BUYERS = 500
TICKETS = 100


@pytest.fixture
async def rush_live(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Live]:
    """The app with a pool sized for a rush, as an operator would run it for an on-sale."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        public_url=url, sandbox_enabled=True, db_pool_size=40
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        connector = aiohttp.TCPConnector(limit=100)  # a gateway keeps a pool of connections
        async with aiohttp.ClientSession(connector=connector) as http:
            yield Live(url, server.app, http)
    finally:
        await server.close()


async def buyer(live: Live, n: int) -> str:
    """One person: dial, pick the event and tier, buy one ticket; what were they told?"""
    handset = Handset(live.http, live.url, phone(90_000 + n))
    await handset.dial()
    for key in ("1", "1"):
        await handset.send(key)
    screen = await handset.send("1")  # the tier
    for key in ("1", "1", "1", "1"):  # quantity, this number, EcoCash, confirm
        if "sold out" in screen.lower():
            return "sold out"
        screen = await handset.send(key)
    if screen.startswith("END ") and "Approve" in screen:
        return "bought"
    return "sold out" if "sold out" in screen.lower() else f"unexpected: {screen}"


async def test_500_phones_for_100_tickets_sell_exactly_100(
    rush_live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, ga_capacity=TICKETS, name="Rush Derby")
    await sandbox_account(db, keybox, world.organizer_id, rush_live.url, approve_after="0.2")
    outcomes = Counter(await asyncio.gather(*(buyer(rush_live, n) for n in range(BUYERS))))
    assert outcomes == {"bought": TICKETS, "sold out": BUYERS - TICKETS}, outcomes
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with db.session() as session:
            tier = await session.get_one(Tier, world.ga_tier_id)
        if tier.sold == TICKETS:
            break
        await asyncio.sleep(0.5)
    assert (tier.sold, tier.held) == (TICKETS, 0)
