"""Looking orders up at the counter: by reference, ticket code or phone, and one order's story."""

from __future__ import annotations

import logging

from aiohttp import web

from tikiti.admin.dashboard import channel_label
from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import render
from tikiti.core import order_lookup
from tikiti.core.errors import InvalidInput
from tikiti.typedefs import DATABASE, SETTINGS

logger = logging.getLogger(__name__)
MAX_QUERY = 64


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


async def detail(request: web.Request) -> web.StreamResponse:
    order_id = int(request.match_info["order_id"])
    async with request.config_dict[DATABASE].session() as session:
        found = await order_lookup.detail(session, request[VIEWER].organizer_id, order_id)
    return render(request, "admin/order.html", {"detail": found, "channel_label": channel_label})
