"""Failures inside the admin become pages in its own look with a fitting status, never a
trace: a step that does not fit (409), a database that is down (503)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import OperationalError

from tests.e2e.conftest import settings_for
from tikiti.admin.app import create_admin
from tikiti.core.errors import InvalidState
from tikiti.typedefs import SETTINGS


async def _not_now(request: web.Request) -> web.Response:
    raise InvalidState("this order is already refunded")


async def _database_down(request: web.Request) -> web.Response:
    raise OperationalError("SELECT 1", {}, Exception("connection refused"))


async def test_refused_steps_and_outages_are_pages_not_traces(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    admin = create_admin()  # the admin as the app mounts it, with two failing pages added
    admin.router.add_get("/test-not-now", _not_now)
    admin.router.add_get("/test-database-down", _database_down)
    app = web.Application()
    app[SETTINGS] = settings_for(database_url, redis_url, redis_prefix)
    app.add_subapp("/admin", admin)
    async with TestClient(TestServer(app)) as client:
        refused = await client.get("/admin/test-not-now")
        assert refused.status == 409
        page = await refused.text()
        assert "already refunded" in page and "Traceback" not in page
        down = await client.get("/admin/test-database-down")
        assert down.status == 503
        assert "Traceback" not in await down.text()
