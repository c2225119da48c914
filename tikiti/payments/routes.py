"""The callback endpoint every provider posts to: ten lines of glue around the service."""

from __future__ import annotations

from aiohttp import web

from tikiti.payments.base import Callback
from tikiti.payments.service import Payments

PAYMENTS = web.AppKey("payments", Payments)


async def callback(request: web.Request) -> web.Response:
    body = await request.read()
    incoming = Callback(
        headers=dict(request.headers),
        body=body,
        query=dict(request.query),
        url=str(request.url),
    )
    result = await request.app[PAYMENTS].handle_callback(request.match_info["provider"], incoming)
    reply = result.reply
    return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/payments/{provider}/callback", callback, name="payment_callback")
