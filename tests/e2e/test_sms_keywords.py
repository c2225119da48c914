"""Buying by SMS keyword through Africa's Talking: the same dialog, replies sent as messages."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from tests.e2e.conftest import Live, settings_for
from tests.e2e.test_ussd import approve, settled, shop
from tests.factories import World, make_world, phone
from tests.integration.test_settlement import settle
from tikiti.core import holds, orders, outbox
from tikiti.core.db import Database
from tikiti.core.models import Buyer, OrderStatus, OutboxMessage, Ticket
from tikiti.core.signing import KeyBox
from tikiti.web import create_app

ENDPOINT = "/channels/sms/africastalking"


class Texter:
    """A phone texting the shortcode, reading replies from the sandbox SMS inbox."""

    def __init__(self, live: Live, number: str) -> None:
        self.live = live
        self.phone = number
        self.replies: list[str] = []

    async def inbox(self) -> list[str]:
        async with self.live.http.get(f"{self.live.url}/sandbox-sms/{self.phone}") as response:
            return [m["body"] for m in (await response.json())["messages"]]

    async def post(self, text: str, message_id: str) -> int:
        form = {
            "from": self.phone,
            "to": "38383",
            "text": text,
            "date": datetime.now(UTC).isoformat(),
            "id": message_id,
        }
        async with self.live.http.post(self.live.url + ENDPOINT, data=form) as response:
            return response.status

    async def send(self, text: str, *, message_id: str | None = None) -> str:
        before = len(await self.inbox())
        status = await self.post(text, message_id or f"ATXid_{secrets.token_hex(8)}")
        assert status == 200
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            messages = await self.inbox()
            if len(messages) > before:
                self.replies.append(messages[0])
                return messages[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no reply to {text!r}")


async def test_a_buyer_buys_by_keyword_and_numbered_replies(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    buyer = Texter(live, phone(7_100_000 + secrets.randbelow(99_999)))
    events = await buyer.send("events")
    assert "Test Festival" in events and "1." in events
    screen = await buyer.send(f"buy {world.event_code.lower()} general 2")
    assert "Who pays" in screen or "this number" in screen.lower(), screen
    screen = await buyer.send("1")  # this number
    assert "EcoCash" in screen
    screen = await buyer.send("1")  # EcoCash (the sandbox operator plays it)
    assert "2 x General" in screen, screen
    paying = await buyer.send("1")  # confirm
    assert "Approve" in paying, paying
    await approve(live, buyer)  # type: ignore[arg-type]  # a texter is a phone like a handset
    orders = await settled(db, buyer.phone, OrderStatus.FULFILLED)
    assert len(orders) == 1 and orders[0].channel == "sms"
    for reply in buyer.replies:
        assert reply.isascii() and len(reply) <= 306, reply


async def test_a_typo_in_an_event_code_is_answered_with_a_suggestion(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    buyer = Texter(live, phone(7_200_000 + secrets.randbelow(99_999)))
    typo = world.event_code[:-1]
    reply = await buyer.send(f"BUY {typo} 2")
    assert f"Did you mean {world.event_code}?" in reply
    assert "No event NOPE is on sale" in await buyer.send("Buy nope")
    assert "EVENTS" in await buyer.send("help")


async def test_a_retried_webhook_sends_one_reply(live: Live, db: Database, keybox: KeyBox) -> None:
    await shop(db, keybox, live)
    buyer = Texter(live, phone(7_300_000 + secrets.randbelow(99_999)))
    message_id = f"ATXid_{secrets.token_hex(8)}"
    await buyer.send("EVENTS", message_id=message_id)
    assert await buyer.post("EVENTS", message_id) == 200  # Africa's Talking tries again
    await asyncio.sleep(0.5)
    assert len(await buyer.inbox()) == 1
    async with db.session() as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.dedupe_key == f"reply:sms:at:{message_id}")
        )
    assert queued == 1


async def test_stop_silences_everything_but_paid_tickets_and_start_undoes_it(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live)
    buyer = Texter(live, phone(7_400_000 + secrets.randbelow(99_999)))
    assert "no more messages" in await buyer.send("STOP")
    async with db.transaction() as session:
        opted_out_at = await session.scalar(
            select(Buyer.opted_out_at).where(Buyer.phone == buyer.phone)
        )
        assert opted_out_at is not None
        kinds = {}
        for kind in ("reminder", "ticket"):
            kinds[kind] = await outbox.enqueue(
                session,
                outbox.Message(
                    kind=kind,
                    channel="sms",
                    address=buyer.phone,
                    language="en",
                    body="x",
                    dedupe_key=f"test:{kind}:{buyer.phone}",
                ),
            )
    assert kinds["reminder"] is None and kinds["ticket"] is not None
    assert "Welcome back" in await buyer.send("start")
    async with db.session() as session:
        assert (
            await session.scalar(select(Buyer.opted_out_at).where(Buyer.phone == buyer.phone))
            is None
        )


async def test_bad_or_unauthorised_messages_change_nothing(
    database_url: str, redis_url: str, redis_prefix: str, db: Database, keybox: KeyBox
) -> None:
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        callback_token="sms-secret-token"
    )
    world = await make_world(db, keybox, starts_in=timedelta(days=2))
    assert world.event_code
    sender = phone(7_500_000 + secrets.randbelow(99_999))
    async with TestClient(TestServer(create_app(settings))) as client:
        good = {"from": sender, "to": "38383", "text": "EVENTS", "id": "ATXid_1"}
        assert (await _post(client, ENDPOINT, good)).status == 403
        url = f"{ENDPOINT}?token=sms-secret-token"
        for bad in (
            {**good, "id": ""},
            {**good, "from": "not a phone"},
            {**good, "text": "x" * 2000},
            {k: v for k, v in good.items() if k != "text"},
        ):
            assert (await _post(client, url, bad)).status == 400, bad
    async with db.session() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.address == sender)
            )
            == 0
        )


async def hold_and_request_for(db: Database, world: World, buyer: str) -> tuple[int, str, int]:
    """A one-ticket order awaiting a sandbox payment for this phone."""
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session,
            event_id=world.event_id,
            items=[holds.Item(world.ga_tier_id, 1)],
            buyer_phone=buyer,
            channel="sms",
            language="en",
            currency="USD",
        )
        payment = await orders.request_payment(
            session,
            order_id=placed.order_id,
            provider="sandbox",
            method="sandbox",
            payer_phone=buyer,
            idempotency_key=f"pay:{placed.order_id}",
        )
        reference = f"SBX-{placed.order_id}"
        await orders.attach_reference(session, payment.id, reference)
    return placed.order_id, reference, placed.total.minor


async def _post(
    client: TestClient[object, object], url: str, form: dict[str, str]
) -> aiohttp.ClientResponse:
    return await client.post(url, data=form)


async def test_a_holder_gives_a_ticket_away_by_sms_keyword(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    world = await shop(db, keybox, live)
    holder = Texter(live, phone(7_600_000 + secrets.randbelow(99_999)))
    _, reference, amount = await hold_and_request_for(db, world, holder.phone)
    (issued,) = (await settle(db, reference, amount)).tickets
    friend = phone(7_700_000 + secrets.randbelow(99_999))
    asked = await holder.send(f"send {issued.code} 0{friend[4:]}")
    assert "We sent you a code by SMS" in asked, asked
    async with db.session() as session:  # the code SMS waits for the worker, not run here
        body = await session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.address == holder.phone, OutboxMessage.kind == "transfer_code"
            )
        )
    assert body is not None
    one_time = body.split(" is ")[1][:5]
    done = await holder.send(one_time)
    assert "gets the ticket by SMS" in done
    async with db.session() as session:
        ticket = await session.get_one(Ticket, issued.id)
    assert ticket.holder_phone == friend and ticket.code != issued.code
    assert "not on this phone" in await holder.send(f"SEND {issued.code} {friend}")
