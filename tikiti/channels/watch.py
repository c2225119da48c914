"""`GET /watch/{token}`: a pay-per-view ticket's personal link, redirecting to the stream.

A device is a browser holding our random cookie; only its hash reaches the database. The
refusal pages are tiny HTML in the buyer's language, readable on a feature phone's browser.
"""

from __future__ import annotations

import html
import logging
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web

from tikiti.core import media, watch
from tikiti.typedefs import DATABASE, SETTINGS

logger = logging.getLogger(__name__)
COOKIE = "tikiti_device"
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_COOKIE = 64
STATUS = {
    watch.Refusal.NOT_FOUND: 404,
    watch.Refusal.NOT_OPEN: 403,
    watch.Refusal.ENDED: 410,
    watch.Refusal.CANCELLED: 410,
    watch.Refusal.TOO_MANY_DEVICES: 403,
}
# The link is personal: never cached, never leaked to the stream's host as a referrer.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PAGE = (
    '<!doctype html><html lang="{lang}"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Tikiti</title><p>{text}</p></html>"
)


def _device(request: web.Request) -> tuple[str, bool]:
    """The browser's device id, and whether it is new (so the response must set it)."""
    known = request.cookies.get(COOKIE, "")
    if 16 <= len(known) <= MAX_COOKIE and known.replace("-", "").replace("_", "").isalnum():
        return known, False
    return secrets.token_urlsafe(24), True


def _page(text: str, status: int, language: str) -> web.Response:
    body = PAGE.format(lang=html.escape(language), text=html.escape(text))
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


async def open_stream(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    found = media.read(settings.secret_key, request.match_info["token"], media.WATCH)
    if found is None:
        refusal = watch.WatchRefused(watch.Refusal.NOT_FOUND)
        return _page(watch.explain(refusal), 404, refusal.language)
    ticket_id, version = found
    device, new = _device(request)
    try:
        async with request.app[DATABASE].transaction() as session:
            stream = await watch.admit(
                session,
                ticket_id=ticket_id,
                version=version,
                device_id=device,
                user_agent=request.headers.get("User-Agent", ""),
                now=datetime.now(UTC),
            )
    except watch.WatchRefused as refusal:
        logger.info("watch link for ticket %s refused: %s", ticket_id, refusal.reason)
        response = _page(watch.explain(refusal), STATUS[refusal.reason], refusal.language)
    else:
        response = web.Response(status=302, headers={**HEADERS, "Location": stream})
    if new:
        response.set_cookie(
            COOKIE,
            device,
            max_age=COOKIE_MAX_AGE,
            path="/watch/",
            httponly=True,
            samesite="Lax",
            secure=urlsplit(settings.public_url).scheme == "https",
        )
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/watch/{token}", open_stream, name="watch")
