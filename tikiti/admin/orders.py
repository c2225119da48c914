"""Looking orders up at the counter: by reference, ticket code or phone, and one order's story."""

from __future__ import annotations

import logging

from aiohttp import web

from tikiti.admin.dashboard import channel_label
from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import redirect, render
from tikiti.admin.roles import MANAGERS
from tikiti.core import order_admin, order_lookup
from tikiti.core.errors import InvalidInput, InvalidState
from tikiti.core.models import OrderStatus
from tikiti.typedefs import DATABASE, SETTINGS

logger = logging.getLogger(__name__)
MAX_QUERY = 64
MAX_REASON = 2000
DONE = {
    "refunded": "The order is refunded: its tickets are void and the amount is owed to the buyer.",
    "resent": "The tickets are queued to be sent again.",
    "recent": "The tickets were sent only moments ago: try again in a few minutes.",
}


async def search(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    typed = request.query.get("q", "").strip()[:MAX_QUERY]
    country = request.config_dict[SETTINGS].default_country
    context: dict[str, object] = {"q": typed, "message": "", "channel_label": channel_label}
    try:
        async with request.config_dict[DATABASE].read() as connection:
            found = await order_lookup.search(
                connection, viewer.organizer_id, typed, default_country=country
            )
    except InvalidInput as error:
        logger.info("admin: order search refused for %s: %s", viewer.email, error)
        return render(request, "admin/orders.html", {**context, "message": str(error)}, status=400)
    return render(request, "admin/orders.html", {**context, "orders": found})


def _order_id(request: web.Request) -> int:
    return int(request.match_info["order_id"])


async def _detail_page(
    request: web.Request, *, status: int = 200, message: str = "", reason: str = ""
) -> web.Response:
    viewer = request[VIEWER]
    async with request.config_dict[DATABASE].session() as session:
        found = await order_lookup.detail(session, viewer.organizer_id, _order_id(request))
    context = {
        "detail": found,
        "channel_label": channel_label,
        "message": message,
        "done": DONE.get(request.query.get("done", ""), ""),
        "reason": reason,
        "can_refund": MANAGERS.permits(viewer.role)
        and found.order.status in order_admin.REFUNDABLE,
        "can_resend": any(t.status == "valid" for t in found.tickets)
        and found.order.status in (OrderStatus.PAID, OrderStatus.FULFILLED),
    }
    return render(request, "admin/order.html", context, status=status)


async def detail(request: web.Request) -> web.StreamResponse:
    return await _detail_page(request)


def _back(request: web.Request, done: str) -> web.Response:
    url = request.app.router["order"].url_for(order_id=str(_order_id(request)))
    return redirect(url.with_query(done=done))


async def refund(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    order_id = _order_id(request)
    typed = (await request.post()).get("reason", "")
    reason = (typed if isinstance(typed, str) else "")[:MAX_REASON]
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            await order_admin.refund(
                session, viewer.organizer_id, order_id, actor=viewer.email, reason=reason
            )
    except (InvalidInput, InvalidState) as error:
        logger.info("admin: refund refused on order %s for %s: %s", order_id, viewer.email, error)
        return await _detail_page(request, status=400, message=str(error), reason=reason)
    return _back(request, "refunded")


async def resend(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    order_id = _order_id(request)
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            sent = await order_admin.resend_tickets(
                session, viewer.organizer_id, order_id, actor=viewer.email
            )
    except InvalidState as error:
        logger.info("admin: resend refused on order %s for %s: %s", order_id, viewer.email, error)
        return await _detail_page(request, status=400, message=str(error))
    return _back(request, "resent" if sent.queued else "recent")
