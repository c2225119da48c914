"""The reports page and its CSV downloads: sales, attendance and ledger, per organizer."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.e2e.admin import Tenant, Visitor, add_person, base, make_tenant, visitor
from tikiti.core import checkin
from tikiti.core.db import Database
from tikiti.core.exports import mask_code, safe_cell, to_csv
from tikiti.core.models import Role
from tikiti.core.signing import KeyBox

Client = TestClient[Any, Any]
# Every test signs in from 127.0.0.1: its per-address count must not leak across tests.
pytestmark = pytest.mark.usefixtures("fresh_address")


async def download(v: Visitor, path: str) -> tuple[int, list[dict[str, str]]]:
    """(status, rows as dicts by header); checks the headers of every CSV answer."""
    async with v.http.get(path, allow_redirects=False) as response:
        body = await response.read()
        if response.status != 200:
            return response.status, []
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment; filename=") and ".csv" in disposition
        assert response.headers["Cache-Control"] == "no-store"
    return 200, list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


async def test_owners_and_managers_download_sales_attendance_and_ledger(
    client: Client, db: Database, tenant: Tenant
) -> None:
    event_id = tenant.world.event_id
    code = tenant.ticket_codes[0]
    async with db.transaction() as session:
        await checkin.check_in(session, event_id=event_id, code=code, gate="North")
    manager, _ = await add_person(db, tenant.world.organizer_id, Role.MANAGER, "Alpha")
    for email in (tenant.owner_email, manager):
        async with visitor(base(client)) as v:
            await v.sign_in(email)
            status, page = await v.get("/admin/reports")
            assert status == 200 and 'href="/admin/reports"' in page
            assert "/admin/reports/sales.csv" in page and tenant.event_name in page

            for path in ("/admin/reports/sales.csv", f"/admin/reports/sales.csv?event={event_id}"):
                status, rows = await download(v, path)
                assert status == 200
                assert len(rows) == 1, path
                row = rows[0]
                assert row["order_reference"] == tenant.order_reference
                assert row["event_code"] == tenant.world.event_code
                assert row["tier"] == "General" and row["quantity"] == "2"
                assert row["unit_price"] == tenant.world.price.decimal_string()
                assert row["discount"] == "0.00" and row["currency"] == "USD"
                assert row["channel"] == "sms" and row["agent_id"] == row["reseller_id"] == ""
                assert datetime.fromisoformat(row["created_at"]).utcoffset() is not None
                assert row["created_at"].endswith("+00:00")

            status, rows = await download(v, f"/admin/reports/attendance.csv?event={event_id}")
            assert status == 200 and len(rows) == 2
            codes = [r["code"] for r in rows]
            assert all(c not in codes for c in tenant.ticket_codes)  # never a whole code
            admitted = [r for r in rows if r["checked_in_at"]]
            assert len(admitted) == 1
            assert admitted[0]["gate"] == "North" and admitted[0]["status"] == "valid"
            assert admitted[0]["code"] == mask_code(code) and admitted[0]["code"].endswith(
                code[-4:]
            )
            assert admitted[0]["code"].startswith("*")
            assert next(r for r in rows if not r["checked_in_at"])["gate"] == ""

            for path in (
                "/admin/reports/ledger.csv",
                f"/admin/reports/ledger.csv?event={event_id}",
            ):
                status, rows = await download(v, path)
                assert status == 200 and rows, path
                sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
                for r in rows:
                    assert "." in r["amount"] and not r["amount"].startswith("'")
                    sums[(r["txn"], r["currency"])] += Decimal(r["amount"])
                assert all(total == 0 for total in sums.values()), sums
                assert {r["order_id"] for r in rows} >= {str(tenant.order_id)}


async def test_reports_refuse_other_roles_other_organizers_and_bad_ids(
    client: Client, db: Database, keybox: KeyBox, tenant: Tenant
) -> None:
    other = await make_tenant(db, keybox, "Bravo")
    theirs = other.world.event_id
    async with visitor(base(client)) as clerk:
        await clerk.sign_in(tenant.clerk_email)
        _, page = await clerk.get("/admin/account")
        assert 'href="/admin/reports"' not in page
        for path in (
            "/admin/reports",
            "/admin/reports/sales.csv",
            f"/admin/reports/attendance.csv?event={tenant.world.event_id}",
            "/admin/reports/ledger.csv",
        ):
            status, body = await clerk.get(path)
            assert status == 403 and "Not for your role" in body, path
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        for name in ("sales", "attendance", "ledger"):
            status, body = await v.get(f"/admin/reports/{name}.csv?event={theirs}")
            assert status == 404, name
            assert not [m for m in other.markers if m in body], name
            for bad in ("abc", "-1", "1.5", "1" * 30, "%00", "1%20OR%201=1"):
                status, _ = await v.get(f"/admin/reports/{name}.csv?event={bad}")
                assert status == 400, (name, bad)
            assert (await v.get(f"/admin/reports/{name}.csv?event=999999999999"))[0] == 404
        assert (await v.get("/admin/reports/attendance.csv"))[0] == 400  # an event is needed
        status, rows = await download(v, "/admin/reports/sales.csv")
        assert status == 200 and {r["order_reference"] for r in rows} == {tenant.order_reference}
    async with visitor(base(client)) as stranger:
        status, _ = await stranger.get("/admin/reports/sales.csv")
        assert status == 302  # to sign in


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x.example")', '\'=HYPERLINK("http://x.example")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("-20.00", "-20.00"),  # a negative amount is a number, not a formula
        ("20.00", "20.00"),
        ("Tendai = VIP", "Tendai = VIP"),
        ("", ""),
    ],
)
def test_a_formula_looking_cell_is_defused(cell: str, written: str) -> None:
    assert safe_cell(cell) == written


def test_the_csv_defuses_every_cell_and_quotes_what_needs_it() -> None:
    text = to_csv(("memo", "amount"), [("=cmd|' /C calc'!A0", "-5.00"), ('a "b", c', "1")])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["memo", "amount"], ["'=cmd|' /C calc'!A0", "-5.00"], ['a "b", c', "1"]]


def test_codes_are_masked_but_for_their_last_four_characters() -> None:
    assert mask_code("ABCD2345XY") == "******45XY"
    assert mask_code("ABCD") == "****"
    assert mask_code("") == ""
