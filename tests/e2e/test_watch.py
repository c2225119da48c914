"""Pay-per-view: the ticket SMS carries a personal link that opens the stream inside the
event's window on at most the allowed number of devices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from tests.conftest import LINKS, TEST_SECRET
from tests.factories import World, make_world
from tests.integration.test_settlement import hold_and_request, settle
from tikiti.channels.watch import COOKIE
from tikiti.core import delivery, media, orders, watch
from tikiti.core.db import Database
from tikiti.core.links import WATCH_MARK
from tikiti.core.models import Event, OutboxMessage, Ticket
from tikiti.core.ports import Outgoing
from tikiti.core.signing import KeyBox

STREAM = "https://stream.example.com/live/derby?key=abc"


async def _paid_ticket(db: Database, world: World, n: int) -> tuple[int, Ticket, OutboxMessage]:
    order_id, reference, amount = await hold_and_request(db, world, n, quantity=1)
    await settle(db, reference, amount)
    async with db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.order_id == order_id))
        message = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.order_id == order_id)
        )
    assert ticket is not None and message is not None
    return order_id, ticket, message


async def _open(
    client: TestClient[object, object], link: str, *, device: str | None
) -> ClientResponse:
    client.session.cookie_jar.clear()
    cookies = {COOKIE: device} if device else None
    return await client.get(link, allow_redirects=False, cookies=cookies)


async def test_the_link_opens_the_stream_on_the_allowed_devices_only(
    client: TestClient[object, object], db: Database, keybox: KeyBox
) -> None:
    world = await make_world(
        db, keybox, stream_url=STREAM, watch_devices=2, starts_in=timedelta(minutes=10)
    )
    order_id, ticket, message = await _paid_ticket(db, world, 1)
    assert WATCH_MARK in message.body  # filled in when sent, for the ticket's version then
    sent = LINKS.render(
        Outgoing(message.id, "sms", message.address, message.body, None, 1, ticket.id, 1)
    )
    link = LINKS.watch(ticket.id, ticket.version)
    assert link in sent.body and WATCH_MARK not in sent.body
    path = link.removeprefix(LINKS.public_url)

    first = await _open(client, path, device=None)
    assert first.status == 302 and first.headers["Location"] == STREAM
    assert first.headers["Referrer-Policy"] == "no-referrer"
    device_a = first.cookies[COOKIE].value
    second = await _open(client, path, device=None)
    assert second.status == 302
    third = await _open(client, path, device=None)
    assert third.status == 403
    assert "2 devices" in await third.text()
    again = await _open(client, path, device=device_a)  # a known device always gets back in
    assert again.status == 302
    async with db.session() as session:
        assert await watch.devices(session, ticket.id) == 2

    async with db.transaction() as session:
        await orders.refund(session, order_id, actor="test", reason="test")
    gone = await _open(client, path, device=device_a)
    assert gone.status == 404


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return f"rec-{message.id}"


async def test_the_worker_sends_the_ticket_with_its_own_links(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox, stream_url=STREAM, starts_in=timedelta(hours=2))
    _, ticket, message = await _paid_ticket(db, world, 4)
    recorder = Recorder()
    while await delivery.deliver_batch(db, {"sms": recorder}, LINKS):
        pass
    mine = [m for m in recorder.sent if m.id == message.id]
    assert len(mine) == 1
    assert LINKS.watch(ticket.id, ticket.version) in mine[0].body
    assert mine[0].media_url == LINKS.qr(ticket.id, ticket.version)
    assert len(mine[0].body) <= 160 * 2


async def test_the_link_works_only_inside_the_window_and_only_as_signed(
    client: TestClient[object, object], db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox, stream_url=STREAM, starts_in=timedelta(days=3))
    _, ticket, _ = await _paid_ticket(db, world, 2)
    path = LINKS.watch(ticket.id, ticket.version).removeprefix(LINKS.public_url)
    early = await _open(client, path, device=None)
    assert early.status == 403 and "opens here at" in await early.text()

    past = datetime.now(UTC) - timedelta(hours=8)
    async with db.transaction() as session:
        await session.execute(
            update(Event)
            .where(Event.id == world.event_id)
            .values(starts_at=past, ends_at=past + timedelta(hours=2))
        )
    late = await _open(client, path, device=None)
    assert late.status == 410 and "no longer" in await late.text()

    qr_token = media.token(TEST_SECRET, ticket.id, ticket.version, media.QR)
    for bad in (qr_token, "x" * 90, media.token("other secret", ticket.id, 1, media.WATCH)):
        refused = await _open(client, f"/watch/{bad}", device=None)
        assert refused.status == 404


async def test_many_new_devices_at_once_never_pass_the_limit(db: Database, keybox: KeyBox) -> None:
    world = await make_world(
        db, keybox, stream_url=STREAM, watch_devices=3, starts_in=timedelta(minutes=5)
    )
    _, ticket, _ = await _paid_ticket(db, world, 3)

    async def one(n: int) -> bool:
        try:
            async with db.transaction() as session:
                await watch.admit(
                    session,
                    ticket_id=ticket.id,
                    version=ticket.version,
                    device_id=f"device-{n:04d}-abcdefgh",
                    user_agent="test",
                    now=datetime.now(UTC),
                )
        except watch.WatchRefused as refusal:
            assert refusal.reason == watch.Refusal.TOO_MANY_DEVICES
            return False
        return True

    admitted = await asyncio.gather(*(one(n) for n in range(20)))
    assert sum(admitted) == 3
    async with db.session() as session:
        assert await watch.devices(session, ticket.id) == 3
