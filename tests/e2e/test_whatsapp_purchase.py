"""A whole purchase on WhatsApp with the sandbox provider, the ticket arriving on WhatsApp with
its QR image; and one buyer across channels: bought on USSD, listed on WhatsApp."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from tests.e2e.conftest import Live, free_port, settings_for
from tests.e2e.test_twilio_channels import arrived
from tests.e2e.test_ussd import approve, buy_by_keys, settled, shop
from tests.e2e.ussd import Handset
from tests.factories import phone
from tests.fakes.twilio import FakeTwilio, inbound_whatsapp, signed
from tikiti.core import delivery
from tikiti.core.db import Database
from tikiti.core.links import Links
from tikiti.core.models import OrderStatus
from tikiti.core.signing import KeyBox
from tikiti.senders import close_senders, senders_for
from tikiti.typedefs import SETTINGS
from tikiti.web import create_app

WHATSAPP = "/channels/whatsapp/twilio"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    server = FakeTwilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def live_whatsapp(
    database_url: str, redis_url: str, redis_prefix: str, twilio: FakeTwilio
) -> AsyncIterator[Live]:
    """The app on a real port (the sandbox operator calls back) with a Twilio account."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        public_url=url, sandbox_enabled=True, twilio=twilio.settings()
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Live(url, server.app, http)
    finally:
        await server.close()


class WhatsApp:
    """A buyer's WhatsApp, writing through Twilio's signed webhook, reading the fake's log."""

    def __init__(self, live: Live, twilio: FakeTwilio, number: str) -> None:
        self.live, self.twilio, self.phone = live, twilio, number

    async def say(self, text: str) -> str:
        before = len(self.twilio.to(f"whatsapp:{self.phone}"))
        params = inbound_whatsapp(self.phone, text)
        headers = signed(self.twilio.auth_token, self.live.url + WHATSAPP, params)
        async with self.live.http.post(
            self.live.url + WHATSAPP, data=params, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
        sent = await arrived(self.twilio, f"whatsapp:{self.phone}", before + 1)
        assert len(sent) > before, f"no reply to {text!r}"
        return str(sent[-1]["Body"])


async def _deliver(live: Live, db: Database) -> None:
    """What `tikiti worker` does for the outbox, with this app's settings."""
    settings = live.app[SETTINGS]
    redis = Redis.from_url(settings.redis_url)
    senders = senders_for(settings, redis, db)
    try:
        links = Links(settings.public_url, settings.secret_key)
        while await delivery.deliver_batch(db, senders, links):
            pass
    finally:
        await close_senders(senders)
        await redis.aclose()


async def test_a_whole_purchase_on_whatsapp_ends_with_the_qr_on_whatsapp(
    live_whatsapp: Live, twilio: FakeTwilio, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live_whatsapp)
    buyer = WhatsApp(live_whatsapp, twilio, phone(9_300_000 + secrets.randbelow(99_999)))
    assert "Buy tickets" in await buyer.say("hi")  # a greeting opens the menu
    assert "this number" in (await buyer.say(f"BUY {world.event_code} GA 2")).lower()
    assert "EcoCash" in await buyer.say("1")
    assert "2 x General" in await buyer.say("1")
    assert "Approve" in await buyer.say("1")
    await approve(live_whatsapp, buyer)  # type: ignore[arg-type]
    (order,) = await settled(db, buyer.phone, OrderStatus.FULFILLED)
    assert order.channel == "whatsapp"

    await _deliver(live_whatsapp, db)
    tickets = [m for m in twilio.to(f"whatsapp:{buyer.phone}") if "Ticket code" in m["Body"]]
    assert len(tickets) == 2
    for message in tickets:  # inside the 24-hour window: free text with the QR image
        media: Any = message.get("MediaUrl")
        (url,) = media if isinstance(media, list) else [media]
        assert str(url).startswith(f"{live_whatsapp.url}/t/")
        async with live_whatsapp.http.get(str(url)) as image:  # what Twilio fetches
            assert image.status == 200 and image.content_type == "image/png"


async def test_one_buyer_across_channels_sees_the_same_tickets(
    live_whatsapp: Live, twilio: FakeTwilio, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live_whatsapp)
    number = phone(9_400_000 + secrets.randbelow(99_999))
    handset = Handset(live_whatsapp.http, live_whatsapp.url, number)
    await handset.dial()
    await buy_by_keys(handset)
    await approve(live_whatsapp, handset)
    (order,) = await settled(db, number, OrderStatus.FULFILLED)
    assert order.channel == "ussd"

    chat = WhatsApp(live_whatsapp, twilio, number)
    listed = await chat.say("TICKETS")
    assert listed.count("Test Festival") == 2, listed  # the two bought on USSD
