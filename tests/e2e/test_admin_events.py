"""Events in the admin: a draft, its tiers, publishing and closing, for owners and managers."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from tests.e2e.admin import Tenant, add_person, base, make_tenant, visitor
from tests.factories import unique_code
from tikiti.core import catalog
from tikiti.core.db import Database
from tikiti.core.models import AuditEntry, Event, EventStatus, Role, Tier, TierPrice, Venue
from tikiti.core.signing import KeyBox

Client = TestClient[Any, Any]
# Every test signs in from 127.0.0.1: its per-address count must not leak across tests.
pytestmark = pytest.mark.usefixtures("fresh_address")
ZONE = ZoneInfo("Africa/Harare")


def local(days: int, hour: int) -> str:
    moment = datetime.now(ZONE) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")


async def venue_of(db: Database, organizer_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Venue.id).where(Venue.organizer_id == organizer_id))
    assert found is not None
    return found


def draft(venue_id: int, code: str) -> dict[str, Any]:
    return {
        "name": "Zim Fest",
        "code": code,
        "category": "music",
        "venue_id": str(venue_id),
        "stream_url": "",
        "starts": local(40, 18),
        "ends": local(40, 23),
        "doors": local(40, 16),
        "per_order_limit": "6",
        "hold_minutes": "15",
        "methods": ["ecocash", "sandbox"],
        "transfers_allowed": "on",
        "max_transfers": "1",
        "transfer_cutoff_minutes": "60",
    }


async def count(db: Database, model: type, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def actions(db: Database, organizer_id: int) -> list[str]:
    async with db.session() as session:
        found = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.organizer_id == organizer_id)
            .order_by(AuditEntry.id)
        )
        return list(found)


async def post_form(v: Any, path: str, form: dict[str, Any]) -> tuple[int, str, str]:
    """Like Visitor.post, but a field may repeat (checkboxes)."""
    fields: list[tuple[str, str]] = [("csrf", v.csrf)]
    for name, value in form.items():
        for one in value if isinstance(value, list) else [value]:
            fields.append((name, one))
    async with v.http.post(path, data=fields, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location", "")


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER])
async def test_a_draft_gets_a_tier_goes_on_sale_and_closes(
    client: Client, db: Database, tenant: Tenant, role: Role
) -> None:
    org = tenant.world.organizer_id
    email, _ = await add_person(db, org, role, "Alpha")
    code = unique_code("ZF")
    async with visitor(base(client)) as v:
        await v.sign_in(email)
        status, page = await v.get("/admin/events")
        assert status == 200 and tenant.event_name in page and tenant.world.event_code in page
        assert 'href="/admin/events"' in page  # in the navigation
        status, page = await v.get("/admin/events/new")
        assert status == 200 and "Test Arena" in page and 'value="mpesa"' in page

        status, _, location = await post_form(
            v, "/admin/events/new", draft(await venue_of(db, org), code)
        )
        assert status == 303, status
        found = re.fullmatch(r"/admin/events/(\d+)\?done=created", location)
        assert found, location
        event_id = int(found.group(1))
        async with db.session() as session:
            event = await session.get_one(Event, event_id)
        assert (event.organizer_id, event.code, event.status) == (org, code, EventStatus.DRAFT)
        assert event.payment_methods == ["ecocash", "sandbox"]
        assert (event.per_order_limit, event.hold_minutes) == (6, 15)
        assert (event.max_transfers, event.transfer_cutoff_minutes) == (1, 60)
        assert event.starts_at.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M") == local(40, 18)

        status, page = await v.get(location)
        assert status == 200 and "Zim Fest" in page and "No tiers yet" in page
        tier = {"name": "VIP", "code": "vip", "capacity": "50", "price": "25.50"}
        status, _, location = await v.post(f"/admin/events/{event_id}/tiers", tier)
        assert (status, location) == (303, f"/admin/events/{event_id}?done=tier")
        status, page = await v.get(location)
        assert "USD 25.50" in page and '<td class="code">VIP</td>' in page
        async with db.session() as session:
            price = await session.scalar(
                select(TierPrice.amount_minor).join(Tier).where(Tier.event_id == event_id)
            )
        assert price == 2550

        status, _, location = await v.post(f"/admin/events/{event_id}/publish")
        assert (status, location) == (303, f"/admin/events/{event_id}?done=published")
        async with db.session() as session:
            listed = await catalog.events_on_sale(
                session, catalog.EventFilter(organizer_id=org), limit=100
            )
        assert code in [e.code for e in listed]  # what USSD, SMS and the bots list
        status, page = await v.get("/admin/events")
        assert code in page and "On sale" in page and "0 / 50" in page

        status, body, _ = await v.post(f"/admin/events/{event_id}/publish")
        assert status == 400 and "only a draft can be published" in body
        status, _, location = await v.post(f"/admin/events/{event_id}/close")
        assert (status, location) == (303, f"/admin/events/{event_id}?done=closed")
        async with db.session() as session:
            assert (await session.get_one(Event, event_id)).status == EventStatus.SALES_CLOSED
        status, body, _ = await v.post(f"/admin/events/{event_id}/close")
        assert status == 400 and "only an event on sale" in body
    log = await actions(db, org)
    assert [a for a in log if a.startswith(("event.", "tier."))][-4:] == [
        "event.created",
        "tier.added",
        "event.published",
        "event.sales_closed",
    ]


async def test_a_streamed_event_needs_no_venue(
    client: Client, db: Database, tenant: Tenant
) -> None:
    code = unique_code("TV")
    form = {**draft(0, code), "venue_id": "", "doors": "", "stream_url": "https://live.example/x"}
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        status, _, _ = await post_form(v, "/admin/events/new", form)
        assert status == 303
    async with db.session() as session:
        event = await session.scalar(select(Event).where(Event.code == code))
    assert event is not None and event.venue_id is None
    assert event.stream_url == "https://live.example/x"


async def test_bad_input_shows_the_form_again_and_saves_nothing(
    client: Client, db: Database, keybox: KeyBox, tenant: Tenant
) -> None:
    org = tenant.world.organizer_id
    other = await make_tenant(db, keybox, "Bravo")
    venue = await venue_of(db, org)
    code = unique_code("BAD")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "   "}, "a name is needed"),
        ({"code": "ZIM FEST!"}, "an event code is 2 to 16"),
        ({"code": tenant.world.event_code}, "is taken"),
        ({"ends": local(40, 12)}, "an event must end after it starts"),
        ({"starts": local(-3, 10), "ends": local(-3, 12), "doors": ""}, "cannot start in the past"),
        ({"starts": "tomorrow"}, "Starts: give a date and time"),
        ({"starts": "2030-02-31T10:00"}, "Starts: give a date and time"),
        ({"doors": local(40, 20)}, "the doors must open before the start"),
        ({"per_order_limit": "0"}, "Tickets per order is a whole number"),
        ({"hold_minutes": "abc"}, "Hold minutes is a whole number"),
        ({"methods": []}, "choose one or more payment methods"),
        ({"methods": ["ecocash", "bitcoin"]}, "choose one or more payment methods"),
        ({"venue_id": str(await venue_of(db, other.world.organizer_id))}, "choose a venue"),
        ({"venue_id": ""}, "give a stream URL"),
        ({"venue_id": "", "stream_url": "ftp://x"}, "a stream URL starts with https"),
        ({"max_transfers": "99"}, "Transfers is a whole number"),
        ({"name": "Zim\x00Fest"}, "a name is needed"),
    ]
    before = await count(db, Event, Event.organizer_id == org)
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        audit_before = await actions(db, org)
        for change, message in cases:
            status, body, _ = await post_form(
                v, "/admin/events/new", {**draft(venue, code), **change}
            )
            assert status == 400 and message in body, (change, status)
            assert "Traceback" not in body
        status, body, _ = await post_form(v, "/admin/events/new", draft(venue, code))
        assert status == 303
        async with db.session() as session:
            event_id = await session.scalar(select(Event.id).where(Event.code == code))
        assert event_id is not None
        tier = {"name": "General", "code": "GA", "capacity": "100", "price": "10"}
        tier_cases: list[tuple[dict[str, str], str]] = [
            ({"price": "ten"}, "the price is an amount in USD"),
            ({"price": "-5"}, "the price is an amount in USD"),
            ({"price": "1.234"}, "the price is an amount in USD"),
            ({"capacity": "0"}, "Capacity is a whole number"),
            ({"capacity": "many"}, "Capacity is a whole number"),
            ({"code": "G A"}, "a tier code is 1 to 16"),
            ({"name": ""}, "a tier name is needed"),
        ]
        for change, message in tier_cases:
            status, body, _ = await v.post(f"/admin/events/{event_id}/tiers", {**tier, **change})
            assert status == 400 and message in body, (change, status)
            assert f'value="{change.get("name", tier["name"])}"' in body  # the form comes back
        status, body, _ = await v.post(f"/admin/events/{event_id}/publish")
        assert status == 400 and "add a tier before publishing" in body
        assert (await v.post(f"/admin/events/{event_id}/tiers", tier))[0] == 303
        status, body, _ = await v.post(f"/admin/events/{event_id}/tiers", tier)
        assert status == 400 and "already has a tier GA" in body
    assert await count(db, Event, Event.organizer_id == org) == before + 1
    assert await count(db, Tier, Tier.event_id == event_id) == 1
    assert await actions(db, org) == [*audit_before, "event.created", "tier.added"]


async def test_forms_without_the_csrf_token_are_refused(
    client: Client, db: Database, tenant: Tenant
) -> None:
    org = tenant.world.organizer_id
    event_id = tenant.world.event_id
    code = unique_code("CS")
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        audit_before = await actions(db, org)
        form = {k: v for k, v in draft(await venue_of(db, org), code).items() if k != "methods"}
        for path, data in [
            ("/admin/events/new", form),
            (
                f"/admin/events/{event_id}/tiers",
                {"name": "X", "code": "X", "capacity": "5", "price": "1"},
            ),
            (f"/admin/events/{event_id}/close", {}),
            (f"/admin/events/{event_id}/publish", {}),
        ]:
            for token in ("", "forged-" + secrets.token_urlsafe(16)):
                status, body, _ = await v.post(path, data, csrf=token)
                assert status == 403 and "This form has expired" in body, (path, token)
    assert await count(db, Event, Event.code == code) == 0
    assert await count(db, Tier, Tier.event_id == event_id, Tier.code == "X") == 0
    async with db.session() as session:
        assert (await session.get_one(Event, event_id)).status == EventStatus.ON_SALE
    assert await actions(db, org) == audit_before


@pytest.mark.parametrize("role", [Role.BOX_OFFICE, Role.GATE])
async def test_box_office_and_gate_staff_are_refused(
    client: Client, db: Database, tenant: Tenant, role: Role
) -> None:
    org = tenant.world.organizer_id
    event_id = tenant.world.event_id
    email, _ = await add_person(db, org, role, "Alpha")
    code = unique_code("NO")
    async with visitor(base(client)) as v:
        await v.sign_in(email)
        for path in ("/admin/events", "/admin/events/new", f"/admin/events/{event_id}"):
            status, body = await v.get(path)
            assert status == 403 and "Not for your role" in body, path
        _, page = await v.get("/admin/account")
        assert 'href="/admin/events"' not in page
        status, _, _ = await post_form(v, "/admin/events/new", draft(await venue_of(db, org), code))
        assert status == 403
        assert (await v.post(f"/admin/events/{event_id}/close"))[0] == 403
    assert await count(db, Event, Event.code == code) == 0
    async with db.session() as session:
        assert (await session.get_one(Event, event_id)).status == EventStatus.ON_SALE


async def test_another_organizers_event_is_not_found(
    client: Client, db: Database, keybox: KeyBox, tenant: Tenant
) -> None:
    other = await make_tenant(db, keybox, "Bravo")
    theirs = other.world.event_id
    their_audit = await actions(db, other.world.organizer_id)
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        status, page = await v.get("/admin/events")
        assert status == 200 and other.event_name not in page and other.world.event_code not in page
        status, body = await v.get(f"/admin/events/{theirs}")
        assert status == 404 and other.event_name not in body
        tier = {"name": "Sneak", "code": "SNEAK", "capacity": "5", "price": "1"}
        for path, data in [
            (f"/admin/events/{theirs}/tiers", tier),
            (f"/admin/events/{theirs}/close", {}),
            (f"/admin/events/{theirs}/publish", {}),
        ]:
            status, body, _ = await v.post(path, data)
            assert status == 404 and other.event_name not in body, path
        assert (await v.get("/admin/events/999999999999"))[0] == 404
        assert (await v.get("/admin/events/1234567890123456789012"))[0] == 404
    assert await count(db, Tier, Tier.event_id == theirs, Tier.code == "SNEAK") == 0
    async with db.session() as session:
        assert (await session.get_one(Event, theirs)).status == EventStatus.ON_SALE
    assert await actions(db, other.world.organizer_id) == their_audit
