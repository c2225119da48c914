"""Twilio's SMS and WhatsApp senders through the official SDK, against a local fake of its API,
with the 24-hour window kept in the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.factories import phone
from tests.fakes.twilio import SMS_NUMBER, WHATSAPP_SANDBOX, FakeTwilio, as_json
from tikiti.channels.sms_twilio import TwilioSms
from tikiti.channels.twilio_common import STATUS_PATH, TwilioApi
from tikiti.channels.whatsapp_twilio import TwilioWhatsApp
from tikiti.channels.whatsapp_window import CustomerWindow
from tikiti.core.ports import DeliveryError, Outgoing
from tikiti.core.store import RedisStore

PUBLIC = "https://tickets.example.org"
TEMPLATE = "HX" + "ab" * 16
QR = "https://tickets.example.org/t/abc.png"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    server = FakeTwilio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(fake: FakeTwilio) -> AsyncIterator[TwilioApi]:
    client = TwilioApi(fake.settings(), PUBLIC)
    yield client
    await client.close()


@pytest.fixture
async def window(redis_url: str, redis_prefix: str) -> AsyncIterator[CustomerWindow]:
    redis = Redis.from_url(redis_url)
    yield CustomerWindow(RedisStore(redis, prefix=redis_prefix))
    await redis.aclose()


def buyer() -> str:
    return phone(secrets.randbelow(10_000_000))


def outgoing(address: str, body: str = "Your ticket TK-1", media_url: str | None = QR) -> Outgoing:
    return Outgoing(
        id=1, channel="whatsapp", address=address, body=body, media_url=media_url, attempts=1
    )


def whatsapp(api: TwilioApi, window: CustomerWindow, template: str = "") -> TwilioWhatsApp:
    return TwilioWhatsApp(
        api, WHATSAPP_SANDBOX, window, template=template, sms=TwilioSms(api, SMS_NUMBER)
    )


async def test_inside_the_window_a_free_form_message_carries_the_qr_image(
    fake: FakeTwilio, api: TwilioApi, window: CustomerWindow
) -> None:
    address = buyer()
    await window.opened(address)
    sid = await whatsapp(api, window, TEMPLATE).send(outgoing(address))
    [sent] = fake.to(f"whatsapp:{address}")
    assert sent["Sid"] == sid and sent["From"] == WHATSAPP_SANDBOX
    assert sent["Body"] == "Your ticket TK-1" and sent["MediaUrl"] == [QR]
    assert "ContentSid" not in sent
    assert sent["StatusCallback"] == PUBLIC + STATUS_PATH


async def test_outside_the_window_the_template_goes_without_body_or_media(
    fake: FakeTwilio, api: TwilioApi, window: CustomerWindow
) -> None:
    address = buyer()
    sid = await whatsapp(api, window, TEMPLATE).send(outgoing(address, "Doors open at 18:00"))
    [sent] = fake.to(f"whatsapp:{address}")
    assert sent["Sid"] == sid and sent["ContentSid"] == TEMPLATE
    assert as_json(sent) == {"1": "Doors open at 18:00"}
    assert "Body" not in sent and sent["MediaUrl"] == []


async def test_outside_the_window_without_a_template_the_message_goes_by_sms(
    fake: FakeTwilio, api: TwilioApi, window: CustomerWindow
) -> None:
    address = buyer()
    sid = await whatsapp(api, window).send(outgoing(address))
    assert fake.to(f"whatsapp:{address}") == []
    [sms] = fake.to(address)
    assert sms["Sid"] == sid and sms["From"] == SMS_NUMBER
    assert sms["Body"] == "Your ticket TK-1" and sms["MediaUrl"] == []


async def test_a_63016_answer_falls_back_to_sms_and_closes_our_window(
    fake: FakeTwilio, api: TwilioApi, window: CustomerWindow
) -> None:
    address = buyer()
    await window.opened(address)
    fake.closed_windows.add(f"whatsapp:{address}")
    sid = await whatsapp(api, window).send(outgoing(address))
    assert fake.to(f"whatsapp:{address}") == []
    [sms] = fake.to(address)
    assert sms["Sid"] == sid
    assert not await window.is_open(address)


async def test_a_63016_answer_with_a_template_sends_the_template(
    fake: FakeTwilio, api: TwilioApi, window: CustomerWindow
) -> None:
    address = buyer()
    await window.opened(address)
    fake.closed_windows.add(f"whatsapp:{address}")
    await whatsapp(api, window, TEMPLATE).send(outgoing(address))
    [sent] = fake.to(f"whatsapp:{address}")
    assert sent["ContentSid"] == TEMPLATE and fake.to(address) == []


async def test_outside_the_window_with_no_way_to_send_the_message_is_retried(
    fake: FakeTwilio, api: TwilioApi, window: CustomerWindow
) -> None:
    sender = TwilioWhatsApp(api, WHATSAPP_SANDBOX, window)
    with pytest.raises(DeliveryError) as failed:
        await sender.send(outgoing(buyer()))
    assert not failed.value.permanent
    assert fake.sent == []


@pytest.mark.parametrize("code", [21211, 21614, 21610])
async def test_a_bad_or_unsubscribed_number_is_permanent(
    fake: FakeTwilio, api: TwilioApi, code: int
) -> None:
    address = buyer()
    fake.refuse[address] = code
    with pytest.raises(DeliveryError) as failed:
        await TwilioSms(api, SMS_NUMBER).send(outgoing(address, media_url=None))
    assert failed.value.permanent and str(code) in str(failed.value)


async def test_other_refusals_and_outages_are_retried(fake: FakeTwilio, api: TwilioApi) -> None:
    sms = TwilioSms(api, SMS_NUMBER)
    address = buyer()
    fake.refuse[address] = 30003  # unreachable handset
    fake.fail_next = 1  # then a 500 from Twilio
    for _ in range(2):
        with pytest.raises(DeliveryError) as failed:
            await sms.send(outgoing(address, media_url=None))
        assert not failed.value.permanent
    await fake.stop()  # and Twilio out of reach altogether
    with pytest.raises(DeliveryError) as failed:
        await sms.send(outgoing(buyer(), media_url=None))
    assert not failed.value.permanent


async def test_wrong_credentials_are_refused_by_the_fake(fake: FakeTwilio) -> None:
    api = TwilioApi(fake.settings(auth_token="wrong"), PUBLIC)
    try:
        with pytest.raises(DeliveryError, match="20003"):
            await TwilioSms(api, SMS_NUMBER).send(outgoing(buyer(), media_url=None))
    finally:
        await api.close()
    assert fake.sent == []


async def test_sms_from_a_messaging_service_names_the_service(
    fake: FakeTwilio, api: TwilioApi
) -> None:
    service = "MG" + "0" * 32
    address = buyer()
    await TwilioSms(api, service).send(outgoing(address, media_url=None))
    [sent] = fake.to(address)
    assert sent["MessagingServiceSid"] == service and "From" not in sent
