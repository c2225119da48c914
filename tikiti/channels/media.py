"""`GET /t/{token}.png`: a ticket's QR code as a PNG, for WhatsApp media and Telegram photos."""

from __future__ import annotations

import io
import logging

import qrcode
from aiohttp import web
from qrcode.image.pure import PyPNGImage
from sqlalchemy import select

from tikiti.core import media, tickets
from tikiti.core.models import Ticket, TicketStatus
from tikiti.typedefs import DATABASE, KEYBOX, SETTINGS

logger = logging.getLogger(__name__)


def png(payload: str) -> bytes:
    """Error correction M survives a cracked phone screen; a 4-module border for scanners."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(payload)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(image_factory=PyPNGImage).save(buffer)
    return buffer.getvalue()


async def ticket_qr(request: web.Request) -> web.Response:
    found = media.read(request.app[SETTINGS].secret_key, request.match_info["token"])
    if found is None:
        return web.Response(status=404, text="not found")
    ticket_id, version = found
    async with request.app[DATABASE].session() as session:
        status, current = (
            await session.execute(
                select(Ticket.status, Ticket.version).where(Ticket.id == ticket_id)
            )
        ).one_or_none() or (None, None)
        if status != TicketStatus.VALID or current != version:
            return web.Response(status=410, text="this ticket is no longer valid")
        payload = await tickets.qr_payload(session, request.app[KEYBOX], ticket_id)
    # Private: the image is a ticket. Short cache so a resend after a reissue is not stale.
    headers = {"Cache-Control": "private, max-age=300"}
    return web.Response(body=png(payload), content_type="image/png", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/t/{token}.png", ticket_qr, name="ticket_qr")
