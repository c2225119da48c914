"""The events pages: the organizer's events, a new draft, one event with its tiers and steps."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from multidict import MultiMapping

from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import redirect, render
from tikiti.core import event_admin
from tikiti.core.errors import InvalidInput, InvalidState
from tikiti.core.models import EventStatus
from tikiti.typedefs import DATABASE, KEYBOX

logger = logging.getLogger(__name__)
MAX_FIELD = 2000
DRAFT_FIELDS = (
    "name",
    "code",
    "category",
    "venue_id",
    "stream_url",
    "starts",
    "ends",
    "doors",
    "per_order_limit",
    "hold_minutes",
    "max_transfers",
    "transfer_cutoff_minutes",
)
TIER_FIELDS = ("name", "code", "capacity", "price")
DRAFT_DEFAULTS = {
    "category": "music",
    "per_order_limit": "10",
    "hold_minutes": "10",
    "max_transfers": "2",
    "transfer_cutoff_minutes": "120",
}
DONE = {
    "created": "The draft is saved. Add a tier, then publish it.",
    "tier": "The tier was added.",
    "published": "The event is on sale.",
    "closed": "Sales are closed. Tickets already sold stay valid.",
}
STATUS_LABELS = {
    EventStatus.DRAFT: "Draft",
    EventStatus.ON_SALE: "On sale",
    EventStatus.SALES_CLOSED: "Sales closed",
    EventStatus.FINISHED: "Finished",
    EventStatus.CANCELLED: "Cancelled",
}


def _fields(data: Mapping[str, object], names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        value = data.get(name, "")
        found[name] = (value if isinstance(value, str) else "")[:MAX_FIELD]
    return found


def _methods(data: MultiMapping[object]) -> list[str]:
    return [v[:40] for v in data.getall("methods", []) if isinstance(v, str)][:20]


def _event_id(request: web.Request) -> int:
    return int(request.match_info["event_id"])


def _organizer(request: web.Request) -> int:
    return request[VIEWER].organizer_id


async def index(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[DATABASE].read() as connection:
        found = await event_admin.events(connection, _organizer(request))
    return render(request, "admin/events.html", {"events": found, "statuses": STATUS_LABELS})


async def _new_page(
    request: web.Request,
    *,
    status: int = 200,
    message: str = "",
    form: dict[str, str] | None = None,
    methods: list[str] | None = None,
    transfers: bool = True,
) -> web.Response:
    async with request.config_dict[DATABASE].read() as connection:
        places = await event_admin.venues(connection, _organizer(request))
    context = {
        "venues": places,
        "message": message,
        "form": form or {**dict.fromkeys(DRAFT_FIELDS, ""), **DRAFT_DEFAULTS},
        "methods": event_admin.PAYMENT_METHODS,
        "chosen": methods if methods is not None else ["ecocash", "onemoney"],
        "transfers": transfers,
    }
    return render(request, "admin/event_new.html", context, status=status)


async def new(request: web.Request) -> web.StreamResponse:
    return await _new_page(request)


async def create(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    data = await request.post()
    form = _fields(data, DRAFT_FIELDS)
    methods = _methods(data)
    transfers = data.get("transfers_allowed") == "on"
    typed = event_admin.DraftInput(**form, payment_methods=methods, transfers_allowed=transfers)
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            event = await event_admin.create_draft(
                session, request.config_dict[KEYBOX], viewer.organizer_id, typed, actor=viewer.email
            )
            event_id = event.id
    except InvalidInput as error:
        logger.info("admin: new event refused for %s: %s", viewer.email, error)
        return await _new_page(
            request, status=400, message=str(error), form=form, methods=methods, transfers=transfers
        )
    url = request.app.router["event"].url_for(event_id=str(event_id))
    return redirect(url.with_query(done="created"))


async def _detail_page(
    request: web.Request,
    *,
    status: int = 200,
    message: str = "",
    form: dict[str, str] | None = None,
) -> web.Response:
    organizer_id = _organizer(request)
    async with request.config_dict[DATABASE].session() as session:
        found = await event_admin.detail(session, organizer_id, _event_id(request))
        facts = await event_admin.organizer_facts(session, organizer_id)
    context = {
        "detail": found,
        "event": found.event,
        "statuses": STATUS_LABELS,
        "currency": facts.currency,
        "message": message,
        "form": form or dict.fromkeys(TIER_FIELDS, ""),
        "done": DONE.get(request.query.get("done", ""), ""),
    }
    return render(request, "admin/event.html", context, status=status)


async def detail(request: web.Request) -> web.StreamResponse:
    return await _detail_page(request)


async def add_tier(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    form = _fields(await request.post(), TIER_FIELDS)
    event_id = _event_id(request)
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            await event_admin.add_tier(
                session,
                viewer.organizer_id,
                event_id,
                event_admin.TierInput(**form),
                actor=viewer.email,
            )
    except (InvalidInput, InvalidState) as error:
        logger.info("admin: tier refused on event %s for %s: %s", event_id, viewer.email, error)
        return await _detail_page(request, status=400, message=str(error), form=form)
    url = request.app.router["event"].url_for(event_id=str(event_id))
    return redirect(url.with_query(done="tier"))


async def publish(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    event_id = _event_id(request)
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            await event_admin.publish(session, viewer.organizer_id, event_id, actor=viewer.email)
    except InvalidState as error:
        logger.info("admin: publish refused on event %s for %s: %s", event_id, viewer.email, error)
        return await _detail_page(request, status=400, message=str(error))
    url = request.app.router["event"].url_for(event_id=str(event_id))
    return redirect(url.with_query(done="published"))


async def close(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    event_id = _event_id(request)
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            await event_admin.close_sales(
                session, viewer.organizer_id, event_id, actor=viewer.email
            )
    except InvalidState as error:
        logger.info("admin: closing refused on event %s for %s: %s", event_id, viewer.email, error)
        return await _detail_page(request, status=400, message=str(error))
    url = request.app.router["event"].url_for(event_id=str(event_id))
    return redirect(url.with_query(done="closed"))
