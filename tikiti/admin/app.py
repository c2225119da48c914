"""The admin sub-application: its route table (each route with its role rule), templates, files.

Mounted at /admin by the app factory. Database, Redis and settings come from the parent
application through `request.config_dict`; the admin opens no resources of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp_jinja2
import jinja2
from aiohttp import web

from tikiti.admin import (
    audit_log,
    auth,
    dashboard,
    events,
    gate_page,
    orders,
    pages,
    reports,
    roles,
    team,
)
from tikiti.admin.guard import guarded
from tikiti.admin.keys import ACCESS, ASSETS
from tikiti.admin.pages import Handler
from tikiti.admin.roles import Allow

PREFIX = "/admin"
HERE = Path(__file__).parent
STATIC = HERE / "static" / "admin"
TEMPLATES = HERE / "templates"
ID = r"{%s:\d{1,18}}"  # ids are bigints: longer digit strings are not ids, and never reach SQL


@dataclass(frozen=True, slots=True)
class Route:
    method: Literal["GET", "POST"]
    path: str
    handler: Handler
    name: str
    allow: Allow


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", dashboard.page, "dashboard", roles.MANAGERS),
    Route("GET", "/live", dashboard.live, "dashboard_live", roles.MANAGERS),
    Route("GET", "/login", auth.login_page, "login", roles.PUBLIC),
    Route("POST", "/login", auth.login, "login_submit", roles.PUBLIC),
    Route("POST", "/logout", auth.logout, "logout", roles.EVERYONE),
    Route("POST", "/logout-everywhere", auth.logout_everywhere, "logout_all", roles.EVERYONE),
    Route("GET", "/account", auth.account, "account", roles.EVERYONE),
    Route("GET", "/orders", orders.search, "orders", roles.SELLERS),
    Route("GET", "/orders/" + ID % "order_id", orders.detail, "order", roles.SELLERS),
    Route(
        "POST",
        "/orders/" + ID % "order_id" + "/refund",
        orders.refund,
        "order_refund",
        roles.MANAGERS,
    ),
    Route(
        "POST",
        "/orders/" + ID % "order_id" + "/resend",
        orders.resend,
        "order_resend",
        roles.SELLERS,
    ),
    Route("GET", "/events", events.index, "events", roles.MANAGERS),
    Route("GET", "/events/new", events.new, "event_new", roles.MANAGERS),
    Route("POST", "/events/new", events.create, "event_create", roles.MANAGERS),
    Route("GET", "/events/" + ID % "event_id", events.detail, "event", roles.MANAGERS),
    Route(
        "POST",
        "/events/" + ID % "event_id" + "/tiers",
        events.add_tier,
        "event_tier_add",
        roles.MANAGERS,
    ),
    Route(
        "POST",
        "/events/" + ID % "event_id" + "/publish",
        events.publish,
        "event_publish",
        roles.MANAGERS,
    ),
    Route(
        "POST",
        "/events/" + ID % "event_id" + "/close",
        events.close,
        "event_close",
        roles.MANAGERS,
    ),
    Route("GET", "/reports", reports.page, "reports", roles.MANAGERS),
    Route("GET", "/reports/sales.csv", reports.sales, "report_sales", roles.MANAGERS),
    Route(
        "GET", "/reports/attendance.csv", reports.attendance, "report_attendance", roles.MANAGERS
    ),
    Route("GET", "/reports/ledger.csv", reports.ledger, "report_ledger", roles.MANAGERS),
    Route("GET", "/team", team.page, "team", roles.OWNERS),
    Route("POST", "/team", team.add, "team_add", roles.OWNERS),
    Route("POST", "/team/" + ID % "user_id" + "/remove", team.remove, "team_remove", roles.OWNERS),
    Route("GET", "/audit", audit_log.page, "audit", roles.OWNERS),
    Route("GET", "/scanner", gate_page.staff_page, "scanner", roles.EVERYONE),
)


def _assets(app: web.Application) -> dict[str, str]:
    """Each file's URL carries a hash of its content: cached for a year, replaced on change."""
    found = {}
    for path in sorted(STATIC.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        found[path.name] = f"{PREFIX}/static/admin/{path.name}?v={digest}"
    return found


async def _cache_assets(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(f"{PREFIX}/static/admin/"):
        forever = "v" in request.query and response.status == 200
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if forever else "no-cache"
        )


async def _no_slash(request: web.Request) -> web.StreamResponse:
    return pages.redirect(f"{PREFIX}/", status=301)


def create_admin() -> web.Application:
    admin = web.Application()
    admin[ACCESS] = {route.name: route.allow for route in ROUTES}
    admin[ASSETS] = _assets(admin)
    env = aiohttp_jinja2.setup(
        admin,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        filters=pages.FILTERS,
    )
    env.globals["asset"] = admin[ASSETS].__getitem__
    pages.install(admin)
    for route in ROUTES:
        admin.router.add_route(
            route.method, route.path, guarded(route.allow, route.handler), name=route.name
        )
    admin.router.add_static("/static/admin", STATIC, name="admin_static")
    admin.on_response_prepare.append(_cache_assets)
    gate_page.add_routes(admin)
    return admin


def mount(app: web.Application) -> web.Application:
    admin = create_admin()
    app.router.add_get(PREFIX, _no_slash, name="admin_root")
    app.add_subapp(PREFIX, admin)
    return admin
