"""What Twilio's SMS and WhatsApp channels share: believing a webhook (its signature), the
empty TwiML answer, and one API client that turns Twilio's failures into DeliveryErrors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from multidict import MultiDict, MultiMapping
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client

from tikiti.channels.base import ChannelError
from tikiti.config import TwilioSettings
from tikiti.core.errors import InvalidInput
from tikiti.core.phones import normalize_phone
from tikiti.core.ports import DeliveryError
from tikiti.typedefs import SETTINGS

logger = logging.getLogger(__name__)

STATUS_PATH = "/channels/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SEND_TIMEOUT = 15.0  # the SDK sets none; a stalled send must end well inside the 60 s lease
# Invalid 'To' number, not a mobile number, recipient unsubscribed (sent STOP to Twilio).
PERMANENT = frozenset({21211, 21614, 21610})
MAX_SID = 64


def verify(
    url: str,
    params: MultiMapping[str],
    headers: Mapping[str, str],
    *,
    auth_token: str,
    webhook_secret: str = "",
) -> None:
    """Raise ChannelError(403) unless Twilio signed this request for this URL and these params.

    Twilio signs with the Auth Token (HMAC-SHA1) unless a Webhook Setting names a SharedKey;
    then the request says so in X-Twilio-Webhooks-Signature-Settings, with its algorithm."""
    settings_header = headers.get(SIGNATURE_SETTINGS_HEADER, "")
    key = webhook_secret if settings_header and webhook_secret else auth_token
    signature = headers.get(SIGNATURE_HEADER, "")
    algorithm = get_signature_algorithm(settings_header)
    if not signature or not RequestValidator(key).validate(url, params, signature, algorithm):
        raise ChannelError("missing or wrong X-Twilio-Signature", status=403)


def message_sid(form: Mapping[str, str]) -> str:
    """The message's id, which also makes the reply's dedupe key."""
    sid = form.get("MessageSid", "") or form.get("SmsMessageSid", "")
    if not sid or len(sid) > MAX_SID:
        raise ChannelError("MessageSid is missing or too long")
    return sid


def phone(raw: str) -> str:
    """+E.164, or a ChannelError: a sender we cannot answer is a bad request."""
    try:
        return normalize_phone(raw)
    except InvalidInput as error:
        raise ChannelError(str(error)) from None


def twilio_settings(request: web.Request) -> TwilioSettings:
    twilio = request.app[SETTINGS].twilio
    if twilio is None:  # routes exist only when configured; this is a wiring mistake
        raise web.HTTPNotFound()
    return twilio


async def verified_form(request: web.Request) -> MultiDict[str]:
    """Every POST param (Twilio adds new ones without notice, so none is left out), checked
    against the URL Twilio requested: the public address plus our path and query."""
    twilio = twilio_settings(request)
    try:
        form = await request.post()
    except ValueError as error:  # a malformed body: not Twilio's
        raise ChannelError(f"unreadable form: {error}"[:200]) from None
    params = MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
    url = request.app[SETTINGS].public_url.rstrip("/") + request.path_qs
    verify(
        url,
        params,
        request.headers,
        auth_token=twilio.auth_token,
        webhook_secret=twilio.webhook_secret,
    )
    return params


def empty_twiml() -> web.Response:
    """Twilio wants TwiML back; an empty Response sends nothing (replies go through the API)."""
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


class TwilioSendError(DeliveryError):
    """Twilio refused a message; `code` is Twilio's error code (e.g. 63016) when it gave one."""

    def __init__(self, message: str, *, code: int | None, permanent: bool = False) -> None:
        super().__init__(message, permanent=permanent)
        self.code = code


class TwilioApi:
    """The official SDK's async client, made on first use (inside the event loop) and shared
    by the SMS and WhatsApp senders of one process."""

    def __init__(self, twilio: TwilioSettings, public_url: str) -> None:
        self.settings = twilio
        self.status_callback = public_url.rstrip("/") + STATUS_PATH
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    def _api(self) -> Client:
        if self._client is None:
            self._http = AsyncTwilioHttpClient()
            # environment={}: the SDK would otherwise read TWILIO_* variables on its own.
            client = Client(
                self.settings.account_sid,
                self.settings.auth_token,
                http_client=self._http,
                environment={},
            )
            if self.settings.base_url:
                client.api.base_url = self.settings.base_url
            self._client = client
        return self._client

    async def create(self, **fields: object) -> str:
        """Create one message; its SID, or a DeliveryError saying whether to retry."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                message = await self._api().messages.create_async(
                    status_callback=self.status_callback, **fields
                )
        except (TwilioRestException, TwilioServiceException) as error:
            code = _code(error)
            raise TwilioSendError(
                f"twilio refused ({code}): {_text(error)}"[:300],
                code=code,
                permanent=code in PERMANENT,
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
            raise DeliveryError(f"twilio unreachable: {error!r}"[:300]) from None
        sid = getattr(message, "sid", None)
        if not sid:
            raise DeliveryError("twilio answered without a message sid")
        return str(sid)

    async def close(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()


def _code(error: TwilioRestException | TwilioServiceException) -> int | None:
    try:
        return int(error.code)
    except (TypeError, ValueError):
        return None


def _text(error: TwilioRestException | TwilioServiceException) -> str:
    return str(getattr(error, "msg", "") or getattr(error, "detail", "") or "")
