"""SMS and WhatsApp through Twilio, end to end: signed webhooks into the real app, replies out
to a fake Twilio API, status callbacks back into the outbox."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from tests.e2e.conftest import settings_for
from tests.factories import make_world, phone
from tests.fakes.africastalking import FakeAfricasTalking
from tests.fakes.twilio import (
    SMS_NUMBER,
    WHATSAPP_SANDBOX,
    FakeTwilio,
    inbound_sms,
    inbound_whatsapp,
    signed,
    status_callback,
)
from tikiti.config import Settings
from tikiti.core.db import Database
from tikiti.core.models import OutboxMessage, OutboxStatus
from tikiti.core.signing import KeyBox
from tikiti.web import create_app

PUBLIC = "https://tickets.example.org"
WHATSAPP = "/channels/whatsapp/twilio"
SMS = "/channels/sms/twilio"
STATUS = "/channels/twilio/status"

Client = TestClient[Any, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    server = FakeTwilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(database_url: str, redis_url: str, redis_prefix: str, fake: FakeTwilio) -> Settings:
    return settings_for(database_url, redis_url, redis_prefix).with_overrides(
        public_url=PUBLIC, twilio=fake.settings()
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


@pytest.fixture
async def world(db: Database, keybox: KeyBox) -> None:
    await make_world(db, keybox, name="Twilio Jazz Night")


def buyer() -> str:
    return phone(secrets.randbelow(10_000_000))


async def post(
    client: Client, path: str, params: dict[str, str], token: str, *, sign_as: str = ""
) -> tuple[int, str]:
    headers = signed(token, sign_as or PUBLIC + path, params)
    async with client.post(path, data=params, headers=headers) as response:
        return response.status, await response.text()


async def eventually(found: Callable[[], list[Any]], count: int = 1, wait: float = 5) -> list[Any]:
    """What `found` returns once it holds `count` items, or when time is up."""
    deadline = time.monotonic() + wait
    while True:
        items = found()
        if len(items) >= count or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.05)


async def arrived(fake: FakeTwilio, to: str, count: int = 1, wait: float = 5) -> list[Any]:
    return await eventually(lambda: fake.to(to), count, wait)


async def outbox_of(db: Database, address: str) -> list[OutboxMessage]:
    async with db.session() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.address == address))
        return list(rows.all())


async def recorded(db: Database, address: str, wait: float = 5) -> list[OutboxMessage]:
    """The address's outbox rows once their send is recorded: Twilio's answer reaches the
    fake before the web process writes the message id down."""
    deadline = time.monotonic() + wait
    while True:
        rows = await outbox_of(db, address)
        if all(r.provider_message_id for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def test_a_whatsapp_events_message_is_answered_on_whatsapp(
    app: Client, fake: FakeTwilio, db: Database, world: None
) -> None:
    address = buyer()
    status, body = await post(app, WHATSAPP, inbound_whatsapp(address, "EVENTS"), fake.auth_token)
    assert status == 200 and "<Response/>" in body
    [reply] = await arrived(fake, f"whatsapp:{address}")
    assert reply["From"] == WHATSAPP_SANDBOX
    assert "1." in reply["Body"] and "ContentSid" not in reply  # inside the window: free-form
    assert reply["StatusCallback"] == PUBLIC + STATUS
    [row] = await recorded(db, address)
    assert row.channel == "whatsapp" and row.provider_message_id == reply["Sid"]


async def test_a_badly_signed_message_is_refused_and_answers_nothing(
    app: Client, fake: FakeTwilio, db: Database
) -> None:
    address = buyer()
    params = inbound_whatsapp(address, "EVENTS")
    for token, url in [("wrong-token", ""), (fake.auth_token, "https://elsewhere.example")]:
        status, _ = await post(app, WHATSAPP, params, token, sign_as=url)
        assert status == 403
    async with app.post(WHATSAPP, data=params) as response:  # not signed at all
        assert response.status == 403
    await asyncio.sleep(0.3)
    assert fake.to(f"whatsapp:{address}") == [] and await outbox_of(db, address) == []


async def test_the_same_message_twice_is_answered_once(
    app: Client, fake: FakeTwilio, db: Database, world: None
) -> None:
    address = buyer()
    params = inbound_whatsapp(address, "EVENTS")
    for _ in range(2):
        status, _ = await post(app, WHATSAPP, params, fake.auth_token)
        assert status == 200
    await arrived(fake, f"whatsapp:{address}", count=2, wait=1.5)
    assert len(fake.to(f"whatsapp:{address}")) == 1
    assert len(await outbox_of(db, address)) == 1


async def test_status_callbacks_mark_the_outbox_row(
    app: Client, fake: FakeTwilio, db: Database, world: None
) -> None:
    delivered, failed = buyer(), buyer()
    for address in (delivered, failed):
        await post(app, WHATSAPP, inbound_whatsapp(address, "HELP"), fake.auth_token)
    [first] = await arrived(fake, f"whatsapp:{delivered}")
    [second] = await arrived(fake, f"whatsapp:{failed}")
    for address in (delivered, failed):  # the send is recorded just after Twilio answers
        await recorded(db, address)
    callbacks = [
        status_callback(first["Sid"], "sent", to=first["To"]),
        status_callback(first["Sid"], "delivered", to=first["To"]),
        status_callback(first["Sid"], "read", to=first["To"]),
        status_callback(second["Sid"], "undelivered", to=second["To"], error_code="63024"),
        status_callback("SM" + "0" * 32, "delivered", to=first["To"]),  # not ours
    ]
    for params in callbacks:
        status, body = await post(app, STATUS, params, fake.auth_token)
        assert (status, body) == (204, "")
    [row] = await outbox_of(db, delivered)
    assert row.status == OutboxStatus.DELIVERED
    [row] = await outbox_of(db, failed)
    assert row.status == OutboxStatus.FAILED and "63024" in (row.last_error or "")


async def test_a_forged_status_callback_changes_nothing(
    app: Client, fake: FakeTwilio, db: Database, world: None
) -> None:
    address = buyer()
    await post(app, WHATSAPP, inbound_whatsapp(address, "HELP"), fake.auth_token)
    [sent] = await arrived(fake, f"whatsapp:{address}")
    await recorded(db, address)
    params = status_callback(sent["Sid"], "failed", to=sent["To"], error_code="30008")
    status, _ = await post(app, STATUS, params, "wrong-token")
    assert status == 403
    [row] = await outbox_of(db, address)
    assert row.status == OutboxStatus.SENT


async def test_an_sms_is_answered_through_twilio_sms(
    app: Client, fake: FakeTwilio, db: Database, world: None
) -> None:
    address = buyer()
    status, body = await post(app, SMS, inbound_sms(address, "EVENTS"), fake.auth_token)
    assert status == 200 and "<Response/>" in body
    [reply] = await arrived(fake, address)
    assert reply["From"] == SMS_NUMBER and reply["Body"] and reply["MediaUrl"] == []
    [row] = await outbox_of(db, address)
    assert row.channel == "sms" and row.provider_message_id == reply["Sid"]


async def test_with_africas_talking_configured_an_sms_to_twilio_is_answered_by_it(
    settings: Settings, fake: FakeTwilio, world: None
) -> None:
    at = FakeAfricasTalking()
    await at.start()
    creds = at.credentials()
    both = settings.with_overrides(
        at_username=creds["username"], at_api_key=creds["api_key"], at_base_url=creds["base_url"]
    )
    try:
        async with TestClient(TestServer(create_app(both))) as client:
            address = buyer()
            status, _ = await post(client, SMS, inbound_sms(address, "HELP"), fake.auth_token)
            assert status == 200
            assert await eventually(lambda: [m for m in at.sent if m["to"] == address])
            assert fake.to(address) == []
    finally:
        await at.stop()


async def test_a_bad_sms_webhook_is_a_400_not_a_500(app: Client, fake: FakeTwilio) -> None:
    params = {**inbound_sms(buyer(), "HELP"), "From": "nobody"}
    status, _ = await post(app, SMS, params, fake.auth_token)
    assert status == 400


async def test_without_twilio_settings_the_routes_do_not_exist(client: Client) -> None:
    for path in (WHATSAPP, SMS, STATUS):
        async with client.post(path, data={"MessageSid": "SM1"}) as response:
            assert response.status == 404


async def test_a_late_window_refusal_sends_the_message_again_by_sms(
    app: Client, fake: FakeTwilio, db: Database, world: None
) -> None:
    address = buyer()
    await post(app, WHATSAPP, inbound_whatsapp(address, "HELP"), fake.auth_token)
    [sent] = await arrived(fake, f"whatsapp:{address}")
    await recorded(db, address)
    params = status_callback(sent["Sid"], "undelivered", to=sent["To"], error_code="63016")
    for _ in range(2):  # Twilio may repeat it: the message is moved once
        status, _ = await post(app, STATUS, params, fake.auth_token)
        assert status == 204
    [row] = await outbox_of(db, address)
    assert row.channel == "sms" and row.status == OutboxStatus.PENDING
    assert row.provider_message_id is None and "63016" in (row.last_error or "")
