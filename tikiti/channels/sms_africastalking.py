"""Africa's Talking SMS: messages in (the booking dialog by keyword), replies and tickets out
through the official SDK, and delivery reports coming back."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from aiohttp import web

from tikiti.channels.base import CALLBACK_TOKEN, DIALOG, ChannelError, converse
from tikiti.core import delivery
from tikiti.core.errors import InvalidInput
from tikiti.core.phones import normalize_phone
from tikiti.core.ports import DeliveryError, Outgoing
from tikiti.dialogs.types import Inbound, Limits
from tikiti.typedefs import DATABASE

logger = logging.getLogger(__name__)
CHANNEL = "sms"
# Two GSM-7 segments: a longer list pages with 98 rather than costing a third SMS.
LIMITS = Limits(306, gsm7=True)
MAX_TEXT = 918  # six concatenated segments; anything longer is not a person typing
MAX_ID = 100
ACCEPTED = {100, 101, 102}  # Processed, Sent, Queued
PERMANENT = {403, 404, 406}  # InvalidPhoneNumber, UnsupportedNumberType, UserInBlacklist
FINAL_OK = {"Success"}
FINAL_FAILED = {"Failed", "Rejected"}


class AfricasTalkingSms:
    """A MessageSender; the SDK is blocking (requests), so each send runs in a thread."""

    def __init__(
        self, username: str, api_key: str, *, sender_id: str = "", base_url: str = ""
    ) -> None:
        self.service = SMSService(username, api_key)
        if base_url:
            self.service._baseUrl = base_url.rstrip("/")  # a test server or a regional host
        self.sender_id = sender_id or None

    async def send(self, message: Outgoing) -> str:
        try:
            answer = await asyncio.to_thread(
                self.service.send, message.body, [message.address], self.sender_id, True
            )
        except ValueError as error:  # the SDK refuses numbers it cannot send to
            raise DeliveryError(str(error), permanent=True) from None
        except (AfricasTalkingException, requests.RequestException) as error:
            raise DeliveryError(f"africastalking: {error}"[:300]) from None
        return _accepted(answer)


def _accepted(answer: object) -> str:
    """The message id of the one recipient, or a DeliveryError saying why not."""
    try:
        recipient: Mapping[str, Any] = answer["SMSMessageData"]["Recipients"][0]  # type: ignore[index]
        code = int(recipient["statusCode"])
    except (TypeError, KeyError, IndexError, ValueError):
        raise DeliveryError(
            f"africastalking answered something unreadable: {str(answer)[:200]}"
        ) from None
    if code in ACCEPTED:
        return str(recipient["messageId"])
    raise DeliveryError(
        f"africastalking refused: {recipient.get('status', code)}", permanent=code in PERMANENT
    )


def parse(form: Mapping[str, str]) -> Inbound:
    """An incoming SMS as AT posts it: `from`, `to`, `text`, `date`, `id` (and `linkId`)."""
    message_id = form.get("id", "")
    if not message_id or len(message_id) > MAX_ID:
        raise ChannelError("id is missing or too long")
    text = form.get("text")
    if text is None or len(text) > MAX_TEXT:
        raise ChannelError("text is missing or too long")
    try:
        phone = normalize_phone(form.get("from", ""))
    except InvalidInput as error:
        raise ChannelError(str(error)) from None
    return Inbound(
        channel=CHANNEL,
        address=phone,
        session_key=phone,
        text=text.strip(),
        dedupe_key=f"at:{message_id}",
        chat=True,
    )


def _token_ok(request: web.Request) -> bool:
    """AT signs nothing: its callback URLs carry the secret token instead."""
    token = request.app[CALLBACK_TOKEN]
    return not token or hmac.compare_digest(request.query.get("token", ""), token)


async def incoming(request: web.Request) -> web.Response:
    if not _token_ok(request):
        logger.warning("incoming sms refused: wrong or missing callback token")
        return web.Response(status=403, text="forbidden")
    form = await request.post()
    try:
        inbound = parse({k: v for k, v in form.items() if isinstance(v, str)})
    except ChannelError as error:
        logger.info("incoming sms refused: %s", error)
        return web.Response(status=error.status, text=str(error))
    if not await converse(request.app[DIALOG], inbound, LIMITS):
        return web.Response(status=503, text="try again")
    return web.Response(text="OK")


async def delivery_report(request: web.Request) -> web.Response:
    """AT posts each report once per status change; anything we cannot match is acknowledged."""
    if not _token_ok(request):
        return web.Response(status=403, text="forbidden")
    form = await request.post()
    message_id, status = str(form.get("id", "")), str(form.get("status", ""))
    if not message_id or not status:
        return web.Response(status=400, text="id and status are required")
    if status in FINAL_OK | FINAL_FAILED:
        async with request.app[DATABASE].transaction() as session:
            known = await delivery.report(
                session,
                message_id,
                delivered=status in FINAL_OK,
                error=str(form.get("failureReason", "")) or None,
            )
        if not known:
            logger.info("delivery report for unknown message %s", message_id[:60])
    return web.Response(text="OK")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/channels/sms/africastalking", incoming, name="at_sms")
    app.router.add_post(
        "/channels/sms/africastalking/delivery", delivery_report, name="at_delivery"
    )
