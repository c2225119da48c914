"""The reports page and its CSV downloads: sales lines, attendance and the ledger."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import render
from tikiti.core import event_admin, exports
from tikiti.core.errors import InvalidInput
from tikiti.core.exports import Export
from tikiti.typedefs import DATABASE

_EVENT_ID = re.compile(r"[0-9]{1,18}")


def event_param(request: web.Request) -> int | None:
    """The optional `event` query parameter; absent or empty means every event."""
    return required_event(request) if request.query.get("event", "") else None


def required_event(request: web.Request) -> int:
    """The `event` query parameter as an id; anything but a short run of digits is refused."""
    raw = request.query.get("event", "")
    if not _EVENT_ID.fullmatch(raw):
        raise InvalidInput("choose an event from the list")
    return int(raw)


def csv_response(name: str, event_id: int | None, export: Export) -> web.Response:
    day = datetime.now(UTC).strftime("%Y%m%d")
    scope = f"event-{event_id}" if event_id is not None else "all"
    filename = f"tikiti-{name}-{scope}-{day}.csv"
    response = web.Response(
        body=exports.to_csv(export.header, export.rows).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


async def page(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[DATABASE].read() as connection:
        found = await event_admin.events(connection, request[VIEWER].organizer_id)
    return render(request, "admin/reports.html", {"events": found})


async def sales(request: web.Request) -> web.StreamResponse:
    event_id = event_param(request)
    async with request.config_dict[DATABASE].read() as connection:
        export = await exports.sales(connection, request[VIEWER].organizer_id, event_id)
    return csv_response("sales", event_id, export)


async def attendance(request: web.Request) -> web.StreamResponse:
    event_id = required_event(request)
    async with request.config_dict[DATABASE].read() as connection:
        export = await exports.attendance(connection, request[VIEWER].organizer_id, event_id)
    return csv_response("attendance", event_id, export)


async def ledger(request: web.Request) -> web.StreamResponse:
    event_id = event_param(request)
    async with request.config_dict[DATABASE].read() as connection:
        export = await exports.ledger(connection, request[VIEWER].organizer_id, event_id)
    return csv_response("ledger", event_id, export)
