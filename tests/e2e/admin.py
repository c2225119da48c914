"""An organizer with people and a sale, and a browser-like visitor signing in to the admin."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.factories import World, make_world, phone
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.core import users
from tikiti.core.db import Database
from tikiti.core.models import Order, Role
from tikiti.core.signing import KeyBox

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass(frozen=True)
class Tenant:
    """An organizer whose owner, box office clerk, event name and order are easy to spot."""

    world: World
    label: str
    event_name: str
    owner_email: str
    owner_id: int
    clerk_email: str
    clerk_id: int
    order_id: int
    order_reference: str
    ticket_codes: tuple[str, ...]
    buyer_phone: str

    @property
    def markers(self) -> tuple[str, ...]:
        """Text that appears only in this organizer's pages."""
        return (self.event_name, self.owner_email, self.clerk_email, self.order_reference)


async def add_person(
    db: Database, organizer_id: int, role: Role, label: str, name: str = ""
) -> tuple[str, int]:
    """A user with a unique email; `name` also names the email when given ("Tendai Moyo")."""
    handle = name.split()[0].lower() if name else role.value
    email = f"{handle}-{secrets.token_hex(4)}@{label.lower()}.example"
    async with db.transaction() as session:
        user = await users.add_user(
            session,
            organizer_id=organizer_id,
            email=email,
            name=name or f"{label} {role.value}",
            role=role,
            password=PASSWORD,
            actor="test",
        )
    return email, user.id


async def make_tenant(db: Database, keybox: KeyBox, label: str) -> Tenant:
    event_name = f"{label} Night {secrets.token_hex(3)}"
    world = await make_world(db, keybox, name=event_name)
    owner_email, owner_id = await add_person(db, world.organizer_id, Role.OWNER, label)
    clerk_email, clerk_id = await add_person(db, world.organizer_id, Role.BOX_OFFICE, label)
    buyer = secrets.randbelow(10_000_000)
    order_id, reference, amount = await hold_and_request(db, world, buyer)
    settled = await settle(db, reference, amount)
    async with db.session() as session:
        order = await session.get_one(Order, order_id)
    return Tenant(
        world,
        label,
        event_name,
        owner_email,
        owner_id,
        clerk_email,
        clerk_id,
        order_id,
        order.reference,
        tuple(t.code for t in settled.tickets),
        phone(buyer),
    )


class Visitor:
    """One browser: its own cookies, the CSRF token of the page it saw last."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.csrf = ""

    def _remember(self, body: str) -> None:
        if found := _CSRF.search(body):
            self.csrf = found.group(1)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(path, allow_redirects=False) as response:
            body = await response.text()
        self._remember(body)
        return response.status, body

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: str | None = None
    ) -> tuple[int, str, str]:
        """(status, body, Location); the token sent is the page's unless one is given."""
        form = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        if csrf == "":
            form.pop("csrf")
        async with self.http.post(path, data=form, allow_redirects=False) as response:
            body = await response.text()
            return response.status, body, response.headers.get("Location", "")

    async def sign_in(self, email: str, password: str = PASSWORD) -> tuple[int, str, str]:
        await self.get("/admin/login")
        answer = await self.post("/admin/login", {"email": email, "password": password})
        await self.get("/admin/account")  # the signed-in session's own token
        return answer

    @property
    def session_cookie(self) -> str | None:
        found = [c.value for c in self.http.cookie_jar if c.key == "tikiti_admin"]
        return found[0] if found else None


@asynccontextmanager
async def visitor(base_url: str) -> AsyncIterator[Visitor]:
    jar = aiohttp.CookieJar(unsafe=True)  # the test server is an IP address
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=jar) as http:
        yield Visitor(http)


def base(client: TestClient[Any, Any]) -> str:
    """The test server's address, for a Visitor that signs in to it."""
    return str(client.make_url("/"))
