"""A ticket's QR image at its signed, unguessable URL."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from tests.conftest import TEST_SECRET
from tests.factories import make_world
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.channels.media import png
from tikiti.core import media, orders, tickets
from tikiti.core.db import Database
from tikiti.core.models import Ticket
from tikiti.core.signing import KeyBox


async def test_the_qr_image_is_served_only_at_its_signed_url(
    client: TestClient[object, object], db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    order_id, reference, amount = await hold_and_request(db, world, 1, quantity=1)
    await settle(db, reference, amount)
    async with db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.order_id == order_id))
        assert ticket is not None
        payload = await tickets.qr_payload(session, keybox, ticket.id)
    token = media.token(TEST_SECRET, ticket.id, ticket.version)
    response = await client.get(f"/t/{token}.png")
    assert response.status == 200 and response.content_type == "image/png"
    assert await response.read() == png(payload)
    assert "private" in response.headers["Cache-Control"]
    forged = media.token("another secret", ticket.id, ticket.version)
    other = media.token(TEST_SECRET, 2**40, 1)  # a ticket that does not exist
    for bad in (forged, token[:-2] + "AA", "x" * 80, other):
        assert (await client.get(f"/t/{bad}.png")).status in (404, 410)
    async with db.transaction() as session:
        await orders.refund(session, order_id, actor="test", reason="test")
    assert (await client.get(f"/t/{token}.png")).status == 410


def test_a_token_reads_back_and_a_touched_one_does_not() -> None:
    token = media.token("s", 123, 2)
    assert media.read("s", token) == (123, 2)
    assert media.read("t", token) is None
    assert media.read("s", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert media.read("s", "not base64 !") is None
