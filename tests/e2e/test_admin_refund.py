"""An order in the admin: refunded in full by an owner or manager, its tickets sent again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from tests.e2e.admin import Tenant, add_person, base, make_tenant, visitor
from tikiti.core.db import Database
from tikiti.core.models import (
    AuditEntry,
    Order,
    OrderStatus,
    OutboxMessage,
    Role,
    Ticket,
    TicketStatus,
    Tier,
)
from tikiti.core.signing import KeyBox

Client = TestClient[Any, Any]
# Every test signs in from 127.0.0.1: its per-address count must not leak across tests.
pytestmark = pytest.mark.usefixtures("fresh_address")


async def sold(db: Database, tier_id: int) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(Tier.sold).where(Tier.id == tier_id)) or 0)


async def order_state(db: Database, order_id: int) -> tuple[OrderStatus, list[TicketStatus]]:
    async with db.session() as session:
        order = await session.get_one(Order, order_id)
        tickets = await session.scalars(
            select(Ticket.status).where(Ticket.order_id == order_id).order_by(Ticket.id)
        )
        return order.status, list(tickets)


async def actions(db: Database, organizer_id: int) -> list[str]:
    async with db.session() as session:
        found = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.organizer_id == organizer_id)
            .order_by(AuditEntry.id)
        )
        return list(found)


async def resends(db: Database, order_id: int) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(OutboxMessage.address, OutboxMessage.body).where(
                OutboxMessage.order_id == order_id, OutboxMessage.kind == "ticket_resend"
            )
        )
        return [(address, body) for address, body in rows.all()]


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER])
async def test_a_paid_order_is_refunded_once_and_its_places_return(
    client: Client, db: Database, tenant: Tenant, role: Role
) -> None:
    org = tenant.world.organizer_id
    email, _ = await add_person(db, org, role, "Alpha")
    tier_id = tenant.world.ga_tier_id
    sold_before = await sold(db, tier_id)
    path = f"/admin/orders/{tenant.order_id}"
    async with visitor(base(client)) as v:
        await v.sign_in(email)
        status, page = await v.get(path)
        assert status == 200 and "Refund in full" in page and "Send the tickets again" in page

        status, body, _ = await v.post(f"{path}/refund", {"reason": "   "})
        assert status == 400 and "a reason is needed" in body
        assert (await order_state(db, tenant.order_id))[0] == OrderStatus.FULFILLED

        status, _, location = await v.post(f"{path}/refund", {"reason": "Buyer cannot attend"})
        assert (status, location) == (303, f"{path}?done=refunded")
        status, page = await v.get(location)
        assert status == 200 and "The order is refunded" in page
        assert "status-refunded" in page and "Refund in full" not in page

        state, tickets = await order_state(db, tenant.order_id)
        assert state == OrderStatus.REFUNDED
        assert tickets and set(tickets) == {TicketStatus.REFUNDED}
        assert await sold(db, tier_id) == sold_before - len(tickets)
        assert (await actions(db, org))[-1] == "order.refunded"

        audited = await actions(db, org)
        status, body, _ = await v.post(f"{path}/refund", {"reason": "again"})
        assert status == 400 and "already refunded" in body
        assert await sold(db, tier_id) == sold_before - len(tickets)
        assert await actions(db, org) == audited

        status, body, _ = await v.post(f"{path}/resend")  # void tickets are not sent
        assert status == 400 and "no valid tickets" in body
        assert await resends(db, tenant.order_id) == []


async def test_an_order_with_a_ticket_used_at_the_gate_is_not_refunded(
    client: Client, db: Database, tenant: Tenant
) -> None:
    async with db.transaction() as session:
        first = await session.scalar(
            select(func.min(Ticket.id)).where(Ticket.order_id == tenant.order_id)
        )
        await session.execute(
            update(Ticket)
            .where(Ticket.id == first)
            .values(checked_in_at=datetime.now(UTC), checked_in_gate="A")
        )
    sold_before = await sold(db, tenant.world.ga_tier_id)
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        status, body, _ = await v.post(
            f"/admin/orders/{tenant.order_id}/refund", {"reason": "Left early"}
        )
        assert status == 400 and "already used at the gate" in body
    state, tickets = await order_state(db, tenant.order_id)
    assert state == OrderStatus.FULFILLED and set(tickets) == {TicketStatus.VALID}
    assert await sold(db, tenant.world.ga_tier_id) == sold_before


async def test_box_office_resends_but_cannot_refund(
    client: Client, db: Database, tenant: Tenant
) -> None:
    path = f"/admin/orders/{tenant.order_id}"
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.clerk_email)
        status, page = await v.get(path)
        assert status == 200 and "Send the tickets again" in page
        assert "Refund in full" not in page
        status, body, _ = await v.post(f"{path}/refund", {"reason": "Buyer asked"})
        assert status == 403 and "Not for your role" in body
        assert (await order_state(db, tenant.order_id))[0] == OrderStatus.FULFILLED

        status, _, location = await v.post(f"{path}/resend")
        assert (status, location) == (303, f"{path}?done=resent")
        status, page = await v.get(location)
        assert "queued to be sent again" in page
        sent = await resends(db, tenant.order_id)
        assert len(sent) == len(tenant.ticket_codes)
        assert {address for address, _ in sent} == {tenant.buyer_phone}
        for code in tenant.ticket_codes:
            assert any(code in "".join(filter(str.isalnum, body)) for _, body in sent), code
        assert (await actions(db, tenant.world.organizer_id))[-1] == "order.tickets_resent"

        status, _, location = await v.post(f"{path}/resend")  # moments later: not again
        assert (status, location) == (303, f"{path}?done=recent")
        assert len(await resends(db, tenant.order_id)) == len(tenant.ticket_codes)


async def test_forms_without_the_token_change_nothing(
    client: Client, db: Database, tenant: Tenant
) -> None:
    path = f"/admin/orders/{tenant.order_id}"
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        for action, form in (("refund", {"reason": "Buyer asked"}), ("resend", {})):
            for token in ("", "forged"):
                status, body, _ = await v.post(f"{path}/{action}", form, csrf=token)
                assert status == 403 and "This form has expired" in body
    assert (await order_state(db, tenant.order_id))[0] == OrderStatus.FULFILLED
    assert await resends(db, tenant.order_id) == []


async def test_another_organizers_order_is_not_found(
    client: Client, db: Database, keybox: KeyBox, tenant: Tenant
) -> None:
    other = await make_tenant(db, keybox, "Bravo")
    other_audit = await actions(db, other.world.organizer_id)
    path = f"/admin/orders/{other.order_id}"
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        status, body, _ = await v.post(f"{path}/refund", {"reason": "Sneaky"})
        assert status == 404 and other.order_reference not in body
        status, body, _ = await v.post(f"{path}/resend")
        assert status == 404 and other.order_reference not in body
        status, _, _ = await v.post("/admin/orders/9" + "9" * 18 + "/refund", {"reason": "x"})
        assert status == 404
    assert (await order_state(db, other.order_id))[0] == OrderStatus.FULFILLED
    assert await resends(db, other.order_id) == []
    assert await actions(db, other.world.organizer_id) == other_audit
