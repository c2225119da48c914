"""A local Twilio Messaging API, and Twilio's side of its webhooks: signed inbound messages and
status callbacks, built with the official RequestValidator."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.base import FakeServer
from tikiti.config import TwilioSettings

WHATSAPP_SANDBOX = "whatsapp:+14155238886"
SMS_NUMBER = "+15005550006"


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class FakeTwilio(FakeServer):
    identifier: str = "twilio"
    account_sid: str = field(default_factory=lambda: sid("AC"))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    refuse: dict[str, int] = field(default_factory=dict)  # To -> Twilio error code
    # WhatsApp addresses whose 24-hour window WhatsApp considers shut: free-form gets 63016.
    closed_windows: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []
        self.app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)

    def settings(self, **changes: str) -> TwilioSettings:
        """Settings that make the real senders talk to this fake."""
        fields = {
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "sms_from": SMS_NUMBER,
            "whatsapp_from": WHATSAPP_SANDBOX,
            "base_url": self.base_url,
            **changes,
        }
        return TwilioSettings(**fields)

    def to(self, address: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message["To"] == address]

    def _authorized(self, request: web.Request) -> bool:
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        given = request.headers.get("Authorization", "")
        return (
            request.match_info["sid"] == self.account_sid
            and given == "Basic " + base64.b64encode(expected).decode()
        )

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return error(20003, "Authenticate", status=401)
        form = await request.post()
        fields: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "MediaUrl"}
        fields["MediaUrl"] = [str(url) for url in form.getall("MediaUrl", [])]
        to = fields.get("To", "")
        if not to:
            return error(21604, "A 'To' phone number is required.")
        if not (fields.get("From") or fields.get("MessagingServiceSid")):
            return error(21603, "A 'From' phone number is required.")
        if not (fields.get("Body") or fields["MediaUrl"] or fields.get("ContentSid")):
            return error(21619, "A text message body or media urls must be specified.")
        if to in self.refuse:
            return error(self.refuse[to], "Refused by the fake")
        if to in self.closed_windows and not fields.get("ContentSid"):
            return error(63016, "Failed to send freeform message outside the window")
        message_sid = sid("SM" if not fields["MediaUrl"] else "MM")
        fields["Sid"] = message_sid
        self.sent.append(fields)
        return web.json_response(created(self.account_sid, message_sid, fields), status=201)


def error(code: int, message: str, *, status: int = 400) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


def created(account_sid: str, message_sid: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The 201 body, with the keys the SDK reads."""
    return {
        "sid": message_sid,
        "account_sid": account_sid,
        "messaging_service_sid": fields.get("MessagingServiceSid"),
        "to": fields["To"],
        "from": fields.get("From"),
        "body": fields.get("Body", ""),
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "num_media": str(len(fields["MediaUrl"])),
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "api_version": "2010-04-01",
        "date_created": "Thu, 01 Jan 2026 00:00:00 +0000",
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}.json",
    }


def signed(token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    """The header Twilio sends with a webhook to `url` carrying `params`."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def inbound_whatsapp(phone: str, body: str, *, message_sid: str | None = None) -> dict[str, str]:
    """A WhatsApp message as Twilio posts it (phone in +E.164)."""
    message_sid = message_sid or sid("SM")
    return {
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ProfileName": "Tendai",
        "MessageType": "text",
        "SmsSid": message_sid,
        "WaId": phone.removeprefix("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": WHATSAPP_SANDBOX,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": sid("AC"),
        "From": f"whatsapp:{phone}",
        "ApiVersion": "2010-04-01",
    }


def inbound_sms(phone: str, body: str, *, message_sid: str | None = None) -> dict[str, str]:
    """An SMS as Twilio posts it."""
    message_sid = message_sid or sid("SM")
    return {
        "ToCountry": "US",
        "ToState": "",
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message_sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "ZW",
        "To": SMS_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": message_sid,
        "AccountSid": sid("AC"),
        "From": phone,
        "ApiVersion": "2010-04-01",
    }


def status_callback(
    message_sid: str, status: str, *, to: str, error_code: str = ""
) -> dict[str, str]:
    params = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": sid("AC"),
        "From": WHATSAPP_SANDBOX if to.startswith("whatsapp:") else SMS_NUMBER,
        "To": to,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def as_json(fields: dict[str, Any]) -> dict[str, Any]:
    """ContentVariables as the JSON it is."""
    return json.loads(fields.get("ContentVariables", "{}"))  # type: ignore[no-any-return]
