"""Africa's Talking USSD: a form POST per hop, answered `CON …` (continue) or `END …` (close)."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from functools import lru_cache

from aiohttp import web

from tikiti.channels.base import CALLBACK_TOKEN, DIALOG, ChannelError
from tikiti.core.errors import InvalidInput
from tikiti.core.phones import normalize_phone
from tikiti.dialogs.types import Inbound, Limits, Reply

logger = logging.getLogger(__name__)
CHANNEL = "ussd"
LIMITS = Limits(182, overhead=4, gsm7=True)
SESSION_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,100}$")
MAX_TEXT = 500


@lru_cache(maxsize=4096)
def _phone(raw: str) -> str:
    """normalize_phone is pure and costs more than the rest of a hop's parsing; a session's
    every hop, and a buyer's every session, carry the same phoneNumber. Errors are not cached."""
    return normalize_phone(raw)


def parse(form: Mapping[str, str]) -> Inbound:
    """A hop as AT sends it; `text` holds every input so far joined with '*'."""
    session_id = form.get("sessionId", "")
    if not SESSION_ID.match(session_id):
        raise ChannelError("sessionId is missing or malformed")
    if "phoneNumber" not in form or "text" not in form:
        raise ChannelError("phoneNumber and text are required")
    try:
        phone = _phone(form["phoneNumber"])
    except InvalidInput as error:
        raise ChannelError(str(error)) from None
    text = form["text"]
    if len(text) > MAX_TEXT:
        raise ChannelError("text is too long")
    return Inbound(
        channel=CHANNEL,
        address=phone,
        session_key=session_id,
        text=text.rsplit("*", 1)[-1] if text else "",
        dedupe_key=f"{session_id}|{text}",
        new_session=text == "",
    )


def render(reply: Reply) -> str:
    return ("END " if reply.end else "CON ") + reply.as_text()


def verified(request: web.Request, token: str) -> bool:
    """Africa's Talking signs nothing: the callback URL carries a secret token instead."""
    return not token or hmac.compare_digest(request.query.get("token", ""), token)


async def webhook(request: web.Request) -> web.Response:
    if not verified(request, request.app[CALLBACK_TOKEN]):
        logger.warning("ussd hop refused: wrong or missing callback token")
        return web.Response(status=403, text="forbidden")
    form = await request.post()
    try:
        inbound = parse({k: v for k, v in form.items() if isinstance(v, str)})
    except ChannelError as error:
        logger.info("ussd hop refused: %s", error)
        return web.Response(status=error.status, text=str(error))
    dialog = request.app[DIALOG]
    reply = await dialog.handle(inbound, LIMITS)
    dialog.after(reply)
    return web.Response(text=render(reply), content_type="text/plain")


def add_routes(app: web.Application, *, token: str) -> None:
    app[CALLBACK_TOKEN] = token
    app.router.add_post("/channels/ussd/africastalking", webhook, name="ussd_africastalking")
