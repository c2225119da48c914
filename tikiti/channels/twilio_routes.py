"""Twilio's endpoints: the status callback both channels share, and which routes exist at
all (none without a Twilio account, so an unconfigured deployment answers 404)."""

from __future__ import annotations

import logging

from aiohttp import web

from tikiti.channels import sms_twilio, whatsapp_twilio
from tikiti.channels.base import ChannelError
from tikiti.channels.twilio_common import MAX_SID, STATUS_PATH, verified_form
from tikiti.config import Settings
from tikiti.core import delivery
from tikiti.typedefs import DATABASE

logger = logging.getLogger(__name__)
DELIVERED = frozenset({"delivered", "read"})
FAILED = frozenset({"failed", "undelivered"})


async def status(request: web.Request) -> web.Response:
    """Twilio posts one callback per status change (queued, sent, delivered, read, …); only
    the final ones change the outbox. Known or not, each is acknowledged with an empty 2xx."""
    try:
        form = await verified_form(request)
    except ChannelError as error:
        logger.warning("twilio status refused: %s", error)
        return web.Response(status=error.status, text=str(error))
    sid = form.get("MessageSid", "")
    state = form.get("MessageStatus", "") or form.get("SmsStatus", "")
    if not sid or len(sid) > MAX_SID or not state:
        logger.info("twilio status without MessageSid or MessageStatus")
        return web.Response(status=400, text="MessageSid and MessageStatus are required")
    error_code = form.get("ErrorCode", "")
    if state in FAILED and error_code == OUTSIDE_WINDOW:
        # WhatsApp refused a free-form message after accepting it: send it by SMS instead.
        async with request.app[DATABASE].transaction() as session:
            moved = await delivery.reroute(
                session, sid, channel="sms", error=f"twilio {state} ({error_code})"
            )
        if moved:
            logger.info("whatsapp message %s outside the window: rerouted to sms", sid[:64])
            return web.Response(status=204)
    if state in DELIVERED | FAILED:
        async with request.app[DATABASE].transaction() as session:
            known = await delivery.report(
                session,
                sid,
                delivered=state in DELIVERED,
                error=f"twilio {state} ({error_code or 'no code'})" if state in FAILED else None,
            )
        if not known:
            logger.info("twilio status %s for %s changed nothing", state, sid[:64])
    return web.Response(status=204)


OUTSIDE_WINDOW = "63016"  # WhatsApp: free-form message outside the 24-hour window


def add_routes(app: web.Application, settings: Settings) -> None:
    twilio = settings.twilio
    if twilio is None:
        return
    app.router.add_post(STATUS_PATH, status, name="twilio_status")
    if twilio.sms_from:
        sms_twilio.add_routes(app)
    if twilio.whatsapp_from:
        whatsapp_twilio.add_routes(app)
