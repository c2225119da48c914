"""Twilio SMS: messages in (the booking dialog by keyword), replies and tickets out through
the official SDK; their status comes back on the shared Twilio status callback."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from aiohttp import web

from tikiti.channels.base import DIALOG, ChannelError, converse
from tikiti.channels.twilio_common import (
    TwilioApi,
    empty_twiml,
    message_sid,
    phone,
    verified_form,
)
from tikiti.core.ports import Outgoing
from tikiti.dialogs.types import Inbound, Limits

logger = logging.getLogger(__name__)
CHANNEL = "sms"
PATH = "/channels/sms/twilio"
# Two GSM-7 segments, as for Africa's Talking: a longer list pages with 98.
LIMITS = Limits(306, gsm7=True)
MAX_TEXT = 1600  # Twilio's own limit on a message body
MESSAGING_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")


def parse(form: Mapping[str, str]) -> Inbound:
    """An incoming SMS as Twilio posts it: MessageSid, From, To, Body (and much else)."""
    sid = message_sid(form)
    text = form.get("Body")
    if text is None or len(text) > MAX_TEXT:
        raise ChannelError("Body is missing or too long")
    address = phone(form.get("From", ""))
    return Inbound(
        channel=CHANNEL,
        address=address,
        session_key=address,
        text=text.strip(),
        dedupe_key=f"tw:{sid}",
        chat=True,
    )


async def incoming(request: web.Request) -> web.Response:
    try:
        inbound = parse(await verified_form(request))
    except ChannelError as error:
        logger.warning("twilio sms refused: %s", error)
        return web.Response(status=error.status, text=str(error))
    if not await converse(request.app[DIALOG], inbound, LIMITS):
        return web.Response(status=503, text="try again")
    return empty_twiml()


class TwilioSms:
    """A MessageSender: from a number, or from a Messaging Service's sender pool."""

    def __init__(self, api: TwilioApi, sender: str) -> None:
        self.api = api
        field = "messaging_service_sid" if MESSAGING_SERVICE.fullmatch(sender) else "from_"
        self.sender: dict[str, str] = {field: sender}

    async def send(self, message: Outgoing) -> str:
        # SMS shows no pictures: a ticket's QR link (media_url) would make it an MMS.
        return await self.api.create(to=message.address, body=message.body, **self.sender)

    async def close(self) -> None:
        await self.api.close()


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, incoming, name="twilio_sms")
