"""WhatsApp through Twilio: messages in (the booking dialog by keyword or button), replies and
tickets out as free-form messages inside the 24-hour window, as the approved template or by
SMS outside it."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping

from aiohttp import web

from tikiti.channels.base import DIALOG, ChannelError, converse
from tikiti.channels.twilio_common import (
    TwilioApi,
    TwilioSendError,
    empty_twiml,
    message_sid,
    phone,
    verified_form,
)
from tikiti.channels.whatsapp_window import CustomerWindow
from tikiti.core.ports import DeliveryError, MessageSender, Outgoing
from tikiti.core.store import RedisStore, StoreUnavailable
from tikiti.dialogs.types import Inbound, Limits
from tikiti.typedefs import REDIS, SETTINGS

logger = logging.getLogger(__name__)
CHANNEL = "whatsapp"
PATH = "/channels/whatsapp/twilio"
PREFIX = "whatsapp:"
LIMITS = Limits(1000)  # numbered text as on SMS, but no segments to pay for
MAX_TEXT = 4096  # WhatsApp's own limit on a text message
OUTSIDE_WINDOW = 63016  # Twilio: free-form message outside the 24-hour window


def parse(form: Mapping[str, str]) -> Inbound:
    """An incoming WhatsApp message: From is `whatsapp:+…`; a quick-reply tap carries
    ButtonPayload (what the button means) and ButtonText (what it said)."""
    sid = message_sid(form)
    sender = form.get("From", "")
    if not sender.startswith(PREFIX):
        raise ChannelError("From is not a WhatsApp address")
    address = phone(sender.removeprefix(PREFIX))
    text = form.get("ButtonPayload") or form.get("ButtonText") or form.get("Body", "")
    if len(text) > MAX_TEXT:
        raise ChannelError("Body is too long")
    return Inbound(
        channel=CHANNEL,
        address=address,
        session_key=address,
        text=text.strip(),
        dedupe_key=f"tw:{sid}",
        chat=True,
    )


def window_of(app: web.Application) -> CustomerWindow:
    return CustomerWindow(RedisStore(app[REDIS], prefix=app[SETTINGS].redis_prefix))


async def incoming(request: web.Request) -> web.Response:
    try:
        inbound = parse(await verified_form(request))
    except ChannelError as error:
        logger.warning("twilio whatsapp refused: %s", error)
        return web.Response(status=error.status, text=str(error))
    try:  # before the reply is sent: the reply itself needs the window open
        await window_of(request.app).opened(inbound.address)
    except StoreUnavailable as error:
        logger.warning("whatsapp window not recorded (replies go as template or SMS): %s", error)
    if not await converse(request.app[DIALOG], inbound, LIMITS):
        return web.Response(status=503, text="try again")
    return empty_twiml()


class TwilioWhatsApp:
    """A MessageSender that never sends free-form outside the window: there it sends the
    template (its variable {{1}} is the text), or, with no template, the SMS sender's copy."""

    def __init__(
        self,
        api: TwilioApi,
        sender: str,
        window: CustomerWindow,
        *,
        template: str = "",
        sms: MessageSender | None = None,
    ) -> None:
        self.api = api
        self.sender = sender
        self.window = window
        self.template = template
        self.sms = sms

    async def send(self, message: Outgoing) -> str:
        to = PREFIX + message.address
        if await self._window_open(message.address):
            media = {"media_url": [message.media_url]} if message.media_url else {}
            try:
                return await self.api.create(to=to, from_=self.sender, body=message.body, **media)
            except TwilioSendError as error:
                if error.code != OUTSIDE_WINDOW:
                    raise
                logger.info("whatsapp message %s: window closed after all", message.id)
                await self._forget(message.address)
        return await self._outside_window(message, to)

    async def _outside_window(self, message: Outgoing, to: str) -> str:
        if self.template:
            variables = json.dumps({"1": message.body}, ensure_ascii=False)
            return await self.api.create(
                to=to, from_=self.sender, content_sid=self.template, content_variables=variables
            )
        if self.sms is None:  # the buyer may write again and reopen the window: retry
            raise DeliveryError("outside the whatsapp window, with no template and no SMS")
        return await self.sms.send(dataclasses.replace(message, channel="sms", media_url=None))

    async def _window_open(self, phone: str) -> bool:
        try:
            return await self.window.is_open(phone)
        except StoreUnavailable as error:
            raise DeliveryError(f"whatsapp window unknown: {error}") from None

    async def _forget(self, phone: str) -> None:
        try:
            await self.window.closed(phone)
        except StoreUnavailable:
            logger.info("whatsapp window of a buyer not cleared; it expires on its own")

    async def close(self) -> None:
        await self.api.close()


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, incoming, name="twilio_whatsapp")
