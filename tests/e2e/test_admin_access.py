"""The admin's doors: sign-in, lockout, CSRF, sessions, roles, and one organizer per user."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from tests.e2e.admin import PASSWORD, Tenant, add_person, base, make_tenant, visitor
from tests.e2e.conftest import settings_for
from tikiti.admin.lockout import Limits, LoginThrottle
from tikiti.core import checkin
from tikiti.core.db import Database
from tikiti.core.models import AuditEntry, Role, User
from tikiti.core.signing import KeyBox
from tikiti.typedefs import ADMIN
from tikiti.web import create_app

Client = TestClient[Any, Any]
# Every test signs in from 127.0.0.1: its per-address count must not leak across tests.
pytestmark = pytest.mark.usefixtures("fresh_address")


@pytest.fixture
async def pair(db: Database, keybox: KeyBox) -> tuple[Tenant, Tenant]:
    return await make_tenant(db, keybox, "Alpha"), await make_tenant(db, keybox, "Bravo")


def admin_routes(client: Client) -> list[web.AbstractRoute]:
    """Every route of the admin sub-application but its static files: new ones join in."""
    return [
        route
        for route in client.app[ADMIN].router.routes()
        if route.method in ("GET", "POST") and "directory" not in route.resource.get_info()
    ]


def url(route: web.AbstractRoute, ids: dict[str, int]) -> str:
    info = route.resource.get_info()
    template = info.get("formatter") or info.get("path")
    names = re.findall(r"\{(\w+)\}", str(template))
    unknown = [n for n in names if n not in ids]
    if unknown:
        pytest.fail(f"{route.name} takes {unknown}: give the tests an id of each organizer for it")
    return str(route.resource.url_for(**{n: str(ids[n]) for n in names}))


def ids_of(tenant: Tenant) -> dict[str, int]:
    return {
        "order_id": tenant.order_id,
        "user_id": tenant.clerk_id,
        "event_id": tenant.world.event_id,
    }


async def count(db: Database, model: type, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def audit_actions(db: Database, organizer_id: int) -> list[str]:
    async with db.session() as session:
        found = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.organizer_id == organizer_id)
            .order_by(AuditEntry.id)
        )
        return list(found)


async def test_pages_carry_security_headers_and_send_strangers_to_sign_in(client: Client) -> None:
    async with visitor(base(client)) as v:
        async with v.http.get("/admin/login") as response:
            assert response.status == 200
            headers = response.headers
            cookie = response.headers["Set-Cookie"]
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        for path in ("/admin/", "/admin/team", "/admin/orders?q=1"):
            status, _ = await v.get(path)
            assert status == 302
        async with v.http.get("/admin/team", allow_redirects=False) as response:
            assert response.headers["Location"] == "/admin/login?next=/admin/team"
        async with v.http.get("/admin", allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (301, "/admin/")
        status, body = await v.get("/admin/no-such-page")
        assert status == 404 and "Traceback" not in body


async def test_the_session_cookie_is_secure_behind_https(
    database_url: str, redis_url: str, redis_prefix: str, db: Database, keybox: KeyBox
) -> None:
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        public_url="https://tickets.example"
    )
    tenant = await make_tenant(db, keybox, "Secure")
    async with TestClient(TestServer(create_app(settings))) as https_client:
        # The client's jar keeps Secure cookies off plain http, so they are carried by hand.
        async with https_client.get("/admin/login") as response:
            login_cookie = response.headers["Set-Cookie"]
            token = login_cookie.split(";")[0].split("=", 1)[1]
        async with https_client.post(
            "/admin/login",
            data={"csrf": token, "email": tenant.owner_email, "password": PASSWORD},
            headers={"Cookie": f"tikiti_login_csrf={token}"},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
            cookies = response.headers.getall("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("tikiti_admin="))
    for cookie in (login_cookie, session_cookie):
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_signing_in_with_the_right_and_the_wrong_password(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    async with visitor(base(client)) as v:
        status, body, _ = await v.sign_in(tenant.owner_email, "not the password at all")
        assert status == 400 and "Email or password is wrong." in body
        assert v.session_cookie is None
        status, body, _ = await v.sign_in("nobody-" + tenant.owner_email)
        assert status == 400 and "Email or password is wrong." in body
        status, body, _ = await v.sign_in(tenant.owner_email + "\x00")
        assert status == 400 and "Traceback" not in body
        status, _, location = await v.sign_in(tenant.owner_email.upper())
        assert (status, location) == (303, "/admin/")
        status, body = await v.get("/admin/")
        assert status == 200 and tenant.event_name in body
    async with db.session() as session:
        owner = await session.get_one(User, tenant.owner_id)
    assert owner.last_login_at is not None
    assert (datetime.now(UTC) - owner.last_login_at).total_seconds() < 60
    actions = await audit_actions(db, tenant.world.organizer_id)
    assert actions[-2:] == ["user.login_failed", "user.login"]


async def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    for wanted, landing in [
        ("/admin/team", "/admin/team"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/admin/", "/admin/"),
    ]:
        async with visitor(base(client)) as v:
            await v.get("/admin/login")
            form = {"email": tenant.owner_email, "password": PASSWORD, "next": wanted}
            status, _, location = await v.post("/admin/login", form)
            assert (status, location) == (303, landing)


async def test_five_wrong_passwords_pause_signing_in_for_that_email(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    async with visitor(base(client)) as v:
        for _ in range(5):
            status, _, _ = await v.sign_in(tenant.owner_email, "wrong password!")
            assert status == 400
        status, body, _ = await v.sign_in(tenant.owner_email)  # even the right one, now
        assert status == 429 and "Too many failed sign-ins" in body and "15 more minutes" in body
        assert v.session_cookie is None
        status, _, _ = await v.sign_in(tenant.clerk_email)  # another person is not paused
        assert status == 303


async def test_twenty_failures_from_one_address_pause_it(redis_url: str) -> None:
    redis = aioredis.from_url(redis_url)
    throttle = LoginThrottle(redis, f"tikiti-test-throttle:{secrets.token_hex(4)}:", Limits())
    try:
        for n in range(19):
            await throttle.failed(f"person{n}@example.com", "10.0.0.9")
        assert await throttle.refused("someone@example.com", "10.0.0.9") is None
        await throttle.failed("person19@example.com", "10.0.0.9")
        wait = await throttle.refused("someone@example.com", "10.0.0.9")
        assert wait is not None and 890 <= wait <= 900
        assert await throttle.refused("someone@example.com", "10.0.0.10") is None
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{throttle.prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(
    client: Client, db: Database, keybox: KeyBox, redis_url: str, redis_prefix: str
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    posts = [route for route in admin_routes(client) if route.method == "POST"]
    assert {r.name for r in posts} >= {"login_submit", "logout", "logout_all", "team_add"}
    new_email = f"new-{secrets.token_hex(4)}@alpha.example"
    form = {
        "email": new_email,
        "name": "New Person",
        "role": "manager",
        "password": PASSWORD,
    }
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        users_before = await count(db, User, User.organizer_id == tenant.world.organizer_id)
        audit_before = await audit_actions(db, tenant.world.organizer_id)
        for route in posts:
            for token in ("", "forged-" + secrets.token_urlsafe(16), v.csrf[:-1]):
                status, body, _ = await v.post(url(route, ids_of(tenant)), form, csrf=token)
                assert status == 403, (route.name, status)
                assert "This form has expired" in body
        assert await count(db, User, User.organizer_id == tenant.world.organizer_id) == users_before
        assert await count(db, User, User.email == new_email) == 0
        assert await audit_actions(db, tenant.world.organizer_id) == audit_before
        assert (await v.get("/admin/account"))[0] == 200  # still signed in
    async with visitor(base(client)) as stranger:  # sign-in itself, with no session at all
        await stranger.get("/admin/login")
        form = {"email": tenant.owner_email, "password": PASSWORD}
        assert (await stranger.post("/admin/login", form, csrf=""))[0] == 403
        assert (await stranger.post("/admin/login", form, csrf="x" * 43))[0] == 403
        assert stranger.session_cookie is None
    email_hash = hashlib.sha256(tenant.owner_email.encode()).hexdigest()[:32]
    redis = aioredis.from_url(redis_url)
    try:  # a refused form is not a guess: it does not count towards a lockout
        assert await redis.get(f"{redis_prefix}rate:login:email:{email_hash}") is None
    finally:
        await redis.aclose()


async def test_signing_out_everywhere_ends_the_other_sessions(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    async with (
        visitor(base(client)) as phone,
        visitor(base(client)) as laptop,
        visitor(base(client)) as tablet,
    ):
        for device in (phone, laptop, tablet):
            assert (await device.sign_in(tenant.owner_email))[0] == 303
        status, _, location = await phone.post("/admin/logout")
        assert (status, location) == (303, "/admin/login?done=out")
        assert (await phone.get("/admin/account"))[0] == 302
        assert (await laptop.get("/admin/account"))[0] == 200  # one sign-out ends one session
        status, _, location = await laptop.post("/admin/logout-everywhere")
        assert (status, location) == (303, "/admin/login?done=everywhere")
        assert (await laptop.get("/admin/account"))[0] == 302
        assert (await tablet.get("/admin/"))[0] == 302
        status, body = await tablet.get("/admin/login?done=everywhere")
        assert "You are signed out on every device." in body
    actions = await audit_actions(db, tenant.world.organizer_id)
    assert actions[-2:] == ["user.logout", "user.logout_everywhere"]


EXPECTED = {  # route name -> the roles that may open it, as the organizer's manual says
    "dashboard": {Role.OWNER, Role.MANAGER},
    "dashboard_live": {Role.OWNER, Role.MANAGER},
    "orders": {Role.OWNER, Role.MANAGER, Role.BOX_OFFICE},
    "order": {Role.OWNER, Role.MANAGER, Role.BOX_OFFICE},
    "team": {Role.OWNER},
    "audit": {Role.OWNER},
    "account": set(Role),
    "scanner": set(Role),
}
HOMES = {
    Role.OWNER: "/admin/",
    Role.MANAGER: "/admin/",
    Role.BOX_OFFICE: "/admin/orders",
    Role.GATE: "/admin/scanner",
}


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_opens_its_pages_and_no_others(
    client: Client, db: Database, keybox: KeyBox, role: Role
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    email, _ = await add_person(db, tenant.world.organizer_id, role, "Alpha")
    gets = {r.name: r for r in admin_routes(client) if r.method == "GET"}
    async with visitor(base(client)) as v:
        status, _, location = await v.sign_in(email)
        assert (status, location) == (303, HOMES[role])
        for name, allowed in EXPECTED.items():
            status, body = await v.get(url(gets[name], ids_of(tenant)))
            assert status == (200 if role in allowed else 403), (role, name, status)
            if status == 403:
                assert "Not for your role" in body
        _, page = await v.get("/admin/account")
        shown = set(re.findall(r'<nav class="nav".*?</nav>', page, re.S)[0].split('href="')[1:])
        shown_paths = {link.split('"')[0] for link in shown}
        assert ("/admin/team" in shown_paths) == (role == Role.OWNER)
        assert ("/admin/" in shown_paths) == (role in (Role.OWNER, Role.MANAGER))
        if role != Role.OWNER:
            form = {"email": f"x-{secrets.token_hex(3)}@a.example", "name": "X", "role": "owner"}
            status, _, _ = await v.post("/admin/team", {**form, "password": PASSWORD})
            assert status == 403
            assert await count(db, User, User.email == form["email"]) == 0
            status, _, _ = await v.post(f"/admin/team/{tenant.clerk_id}/remove")
            assert status == 403
            assert await count(db, User, User.id == tenant.clerk_id) == 1


async def test_an_organizer_never_sees_or_changes_another_organizers_data(
    client: Client, db: Database, keybox: KeyBox, pair: tuple[Tenant, Tenant]
) -> None:
    a, b = pair
    b_users = await count(db, User, User.organizer_id == b.world.organizer_id)
    b_audit = await audit_actions(db, b.world.organizer_id)
    searches = [b.order_reference, b.ticket_codes[0], b.buyer_phone, str(b.order_id)]
    routes = admin_routes(client)
    assert len(routes) >= 14  # the table grows; this test covers each new route by itself
    async with visitor(base(client)) as v:
        for route in [r for r in routes if r.method == "GET"]:
            await v.sign_in(a.owner_email)
            path = url(route, ids_of(b))
            for typed in searches:
                status, body = await v.get(f"{path}?q={typed}&page=1")
                takes_id = "{" in str(route.resource.get_info().get("formatter", ""))
                expected = (403, 404) if takes_id else (200, 302, 400)
                assert status in expected, (route.name, status)
                leaked = [m for m in b.markers if m in body and m != typed]
                assert not leaked, (route.name, leaked)
        for route in [r for r in routes if r.method == "POST"]:
            await v.sign_in(a.owner_email)
            form = {
                "email": f"sneak-{secrets.token_hex(3)}@bravo.example",
                "name": "Sneak",
                "role": "owner",
                "password": PASSWORD,
                "organizer_id": str(b.world.organizer_id),
                "user_id": str(b.clerk_id),
                "order_id": str(b.order_id),
            }
            status, body, _ = await v.post(url(route, ids_of(b)), form)
            assert status in (303, 400, 403, 404), (route.name, status)
            assert not [m for m in b.markers if m in body], route.name
            assert await count(db, User, User.organizer_id == b.world.organizer_id) == b_users
            assert await count(db, User, User.id == b.clerk_id) == 1
            assert await audit_actions(db, b.world.organizer_id) == b_audit
            sneaked = await count(
                db, User, User.email == form["email"], User.organizer_id != a.world.organizer_id
            )
            assert sneaked == 0


async def test_team_members_are_added_and_removed_with_checks(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    org = tenant.world.organizer_id
    new_email = f"usher-{secrets.token_hex(4)}@alpha.example"
    good = {"email": new_email, "name": "Rudo Moyo", "role": "gate", "password": PASSWORD}
    async with visitor(base(client)) as owner, visitor(base(client)) as clerk:
        await owner.sign_in(tenant.owner_email)
        before = await count(db, User, User.organizer_id == org)
        for bad, message in [
            ({"email": "not-an-email"}, "not an email address"),
            ({"password": "short"}, "at least 10 characters"),
            ({"role": "emperor"}, "choose a role"),
            ({"name": "   "}, "a name is needed"),
            ({"email": tenant.clerk_email}, "already exists"),
            ({"email": "nul\x00@alpha.example"}, "not an email address"),
            ({"name": "Rudo\x00"}, "a name is needed"),
        ]:
            status, body, _ = await owner.post("/admin/team", {**good, **bad})
            assert status == 400 and message in body, (bad, status)
            sent = {**good, **bad}
            if sent["email"].isprintable():
                assert f'value="{sent["email"]}"' in body  # the form comes back filled in,
            assert PASSWORD not in body  # but never the password
        assert await count(db, User, User.organizer_id == org) == before

        status, _, location = await owner.post("/admin/team", good)
        assert (status, location) == (303, "/admin/team?done=added")
        _, page = await owner.get("/admin/team")
        assert new_email in page and "Gate staff" in page
        async with visitor(base(client)) as usher:
            assert (await usher.sign_in(new_email))[2] == "/admin/scanner"

        await clerk.sign_in(tenant.clerk_email)
        assert (await clerk.get("/admin/orders"))[0] == 200
        status, _, location = await owner.post(f"/admin/team/{tenant.clerk_id}/remove")
        assert (status, location) == (303, "/admin/team?done=removed")
        assert (await clerk.get("/admin/orders"))[0] == 302  # signed out at once
        assert await count(db, User, User.id == tenant.clerk_id) == 0

        status, body, _ = await owner.post(f"/admin/team/{tenant.owner_id}/remove")
        assert status == 400 and "you cannot remove yourself" in body
        assert (await owner.post("/admin/team/999999999999/remove"))[0] == 404
    actions = await audit_actions(db, org)
    assert "user.added" in actions and actions[-1] == "user.removed"


async def test_the_dashboard_orders_and_audit_log_show_this_organizers_figures(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    tenant = await make_tenant(db, keybox, "Alpha")
    async with db.transaction() as session:
        await checkin.check_in(
            session, event_id=tenant.world.event_id, code=tenant.ticket_codes[0], gate="North"
        )
    async with visitor(base(client)) as v:
        await v.sign_in(tenant.owner_email)
        status, page = await v.get("/admin/")
        assert status == 200
        assert 'data-figure="tickets-total">2<' in page
        assert '"revenue-today"><span class="amount">USD 20.00</span></p>' in page
        assert "<svg" in page and "2 tickets</title>" in page
        assert "<td>SMS</td>" in page and "<td>North</td>" in page and "<td>General<br>" in page
        async with v.http.get("/admin/live") as response:
            fragment = await response.text()
            assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        assert "<html" not in fragment and 'data-figure="tickets-total">2<' in fragment

        for typed in (tenant.order_reference, tenant.ticket_codes[0].lower(), tenant.buyer_phone):
            status, page = await v.get(f"/admin/orders?q={typed}")
            assert status == 200 and f"/admin/orders/{tenant.order_id}" in page, typed
        assert (await v.get("/admin/orders?q=%00"))[0] == 400
        status, page = await v.get("/admin/orders?q=%3Cscript%3E")
        assert status == 400 and "type an order reference" in page and "<script>" not in page
        status, page = await v.get(f"/admin/orders/{tenant.order_id}")
        assert status == 200 and "gate North" in page and "sandbox" in page

        status, page = await v.get("/admin/audit")
        assert status == 200 and "user.login" in page and tenant.owner_email in page
        for page_number in ("zero", "²", "-1", "0", "1" * 30):
            assert (await v.get(f"/admin/audit?page={page_number}"))[0] == 400, page_number
        assert (await v.get("/admin/audit?page=9999"))[0] == 200
        assert (await v.get("/admin/orders/0"))[0] == 404


async def test_the_gate_page_still_opens_without_an_admin_sign_in(client: Client) -> None:
    async with visitor(base(client)) as v:
        status, body = await v.get("/admin/gate")
        assert status == 200 and "/admin/static/gate/app.js" in body
        async with v.http.get("/admin/gate") as response:
            assert "camera=(self)" in response.headers["Permissions-Policy"]
        async with v.http.get("/admin/static/admin/admin.css?v=1") as response:
            assert response.status == 200 and "immutable" in response.headers["Cache-Control"]
