"""Twilio webhooks: what we believe (the signature), what we read (parse), nothing else."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from tests.fakes.twilio import inbound_sms, inbound_whatsapp, signed
from tikiti.channels import sms_twilio, whatsapp_twilio
from tikiti.channels.base import ChannelError
from tikiti.channels.twilio_common import verify
from tikiti.channels.whatsapp_window import MARGIN, WINDOW, CustomerWindow
from tikiti.core.store import MemoryStore

TOKEN = "12345"
URL = "https://tickets.example.org/channels/whatsapp/twilio"


def test_twilios_published_example_passes() -> None:
    """The example in Twilio's security docs, through our verify."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = MultiDict(
        {
            "CallSid": "CA1234567890ABCDE",
            "Caller": "+12349013030",
            "Digits": "1234",
            "From": "+12349013030",
            "To": "+18005551212",
        }
    )
    verify(url, params, {"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="}, auth_token=TOKEN)


def test_a_signed_message_passes_and_any_change_fails() -> None:
    params = inbound_whatsapp("+263771234567", "EVENTS")
    headers = signed(TOKEN, URL, params)
    verify(URL, MultiDict(params), headers, auth_token=TOKEN)
    for url, changed, token in [
        (URL + "?x=1", params, TOKEN),  # another URL
        (URL, {**params, "Body": "BUY X 1 9"}, TOKEN),  # another body
        (URL, {**params, "Extra": "1"}, TOKEN),  # a param added on the way
        (URL, params, "other-token"),
    ]:
        with pytest.raises(ChannelError) as refused:
            verify(url, MultiDict(changed), headers, auth_token=token)
        assert refused.value.status == 403


def test_an_unsigned_request_is_refused() -> None:
    with pytest.raises(ChannelError, match="Signature"):
        verify(URL, MultiDict(inbound_sms("+263771234567", "HELP")), {}, auth_token=TOKEN)


def test_a_port_in_the_url_does_not_matter() -> None:
    params = inbound_sms("+263771234567", "HELP")
    headers = signed(TOKEN, "https://tickets.example.org:443/channels/sms/twilio", params)
    verify(
        "https://tickets.example.org/channels/sms/twilio",
        MultiDict(params),
        headers,
        auth_token=TOKEN,
    )


def test_a_shared_key_signature_uses_its_secret_and_algorithm() -> None:
    params = inbound_whatsapp("+263771234567", "EVENTS")
    secret = "shared-key-secret"
    signature = RequestValidator(secret).compute_signature(URL, params, "HMAC_SHA256")
    headers = {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }
    verify(URL, MultiDict(params), headers, auth_token=TOKEN, webhook_secret=secret)
    with pytest.raises(ChannelError):  # the Auth Token does not make this signature
        verify(URL, MultiDict(params), headers, auth_token=TOKEN)


def test_repeated_params_are_all_signed() -> None:
    params = MultiDict([("MediaUrl", "https://a"), ("MediaUrl", "https://b"), ("Body", "x")])
    signature = RequestValidator(TOKEN).compute_signature(URL, params)
    verify(URL, params, {"X-Twilio-Signature": signature}, auth_token=TOKEN)
    params.add("MediaUrl", "https://c")
    with pytest.raises(ChannelError):
        verify(URL, params, {"X-Twilio-Signature": signature}, auth_token=TOKEN)


def test_an_sms_becomes_a_chat_inbound() -> None:
    form = inbound_sms("+263771234567", "  events ", message_sid="SM" + "a" * 32)
    inbound = sms_twilio.parse(form)
    assert inbound.channel == "sms" and inbound.chat
    assert inbound.address == inbound.session_key == "+263771234567"
    assert inbound.text == "events"
    assert inbound.dedupe_key == "tw:SM" + "a" * 32


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": "", "SmsMessageSid": ""}, "MessageSid"),
        ({"MessageSid": "S" * 65}, "MessageSid"),
        ({"From": "not a phone"}, "phone"),
        ({"Body": "x" * 1601}, "Body"),
    ],
)
def test_an_unreadable_sms_is_refused(change: dict[str, str], reason: str) -> None:
    with pytest.raises(ChannelError, match=reason):
        sms_twilio.parse({**inbound_sms("+263771234567", "HELP"), **change})


def test_a_whatsapp_message_is_read_from_its_whatsapp_address() -> None:
    inbound = whatsapp_twilio.parse(inbound_whatsapp("+263771234567", "EVENTS"))
    assert inbound.channel == "whatsapp" and inbound.chat
    assert inbound.address == inbound.session_key == "+263771234567"
    assert inbound.text == "EVENTS" and inbound.dedupe_key is not None
    assert inbound.dedupe_key.startswith("tw:SM")


def test_a_quick_reply_tap_is_read_as_its_payload() -> None:
    form = {
        **inbound_whatsapp("+263771234567", "Buy"),
        "ButtonText": "Buy",
        "ButtonPayload": "BUY ZIMFEST GA 2",
    }
    assert whatsapp_twilio.parse(form).text == "BUY ZIMFEST GA 2"
    del form["ButtonPayload"]
    assert whatsapp_twilio.parse(form).text == "Buy"


def test_a_whatsapp_webhook_without_a_whatsapp_sender_is_refused() -> None:
    with pytest.raises(ChannelError, match="WhatsApp"):
        whatsapp_twilio.parse({**inbound_whatsapp("+263771234567", "HI"), "From": "+263771234567"})


async def test_the_window_is_open_for_24_hours_less_a_margin() -> None:
    window = CustomerWindow(MemoryStore())
    assert not await window.is_open("+263771234567")
    await window.opened("+263771234567", at=1_000.0)
    assert await window.is_open("+263771234567", now=1_000.0 + WINDOW - MARGIN - 1)
    assert not await window.is_open("+263771234567", now=1_000.0 + WINDOW - MARGIN + 1)
    await window.closed("+263771234567")
    assert not await window.is_open("+263771234567", now=1_001.0)
