"""Whatever a person types, every USSD screen fits 182 characters and is a CON or an END."""

from __future__ import annotations

import asyncio
import secrets
import threading
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import free_port, sandbox_account, settings_for
from tests.factories import make_world
from tikiti.core.db import Database
from tikiti.core.signing import KeyBox
from tikiti.web import create_app

KEYS = ["0", "00", "98", "1", "2", "3", "4", "9", "10", "", "*", "#", "abc", "0771234567", "1" * 30]


@pytest.fixture(scope="module")
def server(database_url: str, redis_url: str, redis_prefix: str) -> Iterator[str]:
    """The app in a thread of its own, so a plain (synchronous) hypothesis test can call it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        config = settings_for(database_url, redis_url, redis_prefix).with_overrides(
            public_url=url, sandbox_enabled=True
        )
        runner = web.AppRunner(create_app(config), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield url
    stop.set()
    thread.join(30)


@pytest.fixture(scope="module")
async def shop(server: str, db: Database, keybox: KeyBox) -> AsyncIterator[None]:
    world = await make_world(db, keybox, name="Property Fest", ga_capacity=1000)
    await sandbox_account(db, keybox, world.organizer_id, server)
    yield


def hop(url: str, session_id: str, text: str) -> tuple[int, str]:
    form = {"sessionId": session_id, "serviceCode": "*384#", "phoneNumber": "+263772000001",
            "networkCode": "64804", "text": text}  # fmt: skip
    request = urllib.request.Request(
        url + "/channels/ussd/africastalking", data=urllib.parse.urlencode(form).encode()
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(KEYS), max_size=14))
def test_every_screen_fits_and_is_con_or_end(server: str, shop: None, keys: list[str]) -> None:
    session_id = "ATUid_" + secrets.token_hex(6)
    inputs: list[str] = []
    status, screen = hop(server, session_id, "")
    for key in [None, *keys]:
        if key is not None:
            inputs.append(key)
            status, screen = hop(server, session_id, "*".join(inputs))
        if status == 400:  # the gateway would never send this much; refused, nothing stored
            assert len("*".join(inputs)) > 500
            return
        assert status == 200
        assert screen.startswith(("CON ", "END ")), screen
        assert len(screen) <= 182, (len(screen), screen)
        assert screen.isascii()
        if screen.startswith("END "):
            return
