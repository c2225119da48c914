"""Buying on Telegram through the real app: the webhook, the phone number shared as a contact,
buttons that name their screen, and replies sent by the real bot to a local fake Bot API."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from tests.e2e.conftest import Live, free_port, sandbox_account, settings_for
from tests.e2e.test_ussd import approve, settled
from tests.factories import World, make_world, phone
from tests.fakes.telegram import FakeTelegram, TelegramUser
from tikiti.channels.base import DIALOG
from tikiti.channels.telegram import ASK_PHONE, NOT_OWN, PATH, SHARE_BUTTON
from tikiti.conversations import Conversations
from tikiti.core import delivery, telegram_chats
from tikiti.core.db import Database
from tikiti.core.models import OrderStatus, OutboxMessage
from tikiti.core.signing import KeyBox
from tikiti.web import create_app


@dataclass
class Telegram:
    live: Live
    fake: FakeTelegram


@pytest.fixture
async def telegram(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Telegram]:
    """The whole app on a real port (the sandbox operator calls it back), its bot pointed at
    the fake Bot API."""
    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_for(database_url, redis_url, redis_prefix).with_overrides(
        public_url=url, sandbox_enabled=True, telegram=fake.settings()
    )
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Telegram(Live(url, app, http), fake)
    finally:
        await server.close()
        await fake.stop()


class Chat:
    """A Telegram user writing to the bot; Telegram's webhook posts are made here."""

    def __init__(self, telegram: Telegram, number: str | None = None) -> None:
        self.live, self.fake = telegram.live, telegram.fake
        self.user = TelegramUser(5_000_000_000 + secrets.randbelow(10**9))
        self.phone = number or phone(8_000_000 + secrets.randbelow(999_999))

    async def post(
        self, update: dict[str, Any], *, secret: str | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": self.fake.secret if secret is None else secret,
            "Content-Type": "application/json",
        }
        data = raw if raw is not None else json.dumps(update).encode()
        async with self.live.http.post(self.live.url + PATH, data=data, headers=headers) as r:
            is_json = r.content_type == "application/json"
            return r.status, await (r.json() if is_json else r.text())

    async def send(self, update: dict[str, Any]) -> dict[str, Any]:
        """Post the update and wait for the bot's next message to this chat."""
        before = len(self.fake.sent(self.user.chat_id))
        status, _ = await self.post(update)
        assert status == 200
        return await self.next_message(before)

    async def next_message(self, before: int, wait: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            sent = self.fake.sent(self.user.chat_id)
            if len(sent) > before:
                return sent[before]
            await asyncio.sleep(0.05)
        raise AssertionError("the bot sent nothing")

    async def tap(self, message: dict[str, Any], label: str) -> dict[str, Any]:
        return await self.send(self.user.tap(button(message, label)))

    async def linked(self) -> dict[str, Any]:
        """Share the chat's own number; returns the home menu that follows."""
        return await self.send(self.user.contact(self.phone))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


def button(message: dict[str, Any], label: str) -> str:
    """The data of the first button whose label starts with `label`."""
    found = [data for text, data in buttons(message).items() if text.startswith(label)]
    assert found, f"no {label!r} button in {list(buttons(message))}"
    return found[0]


async def on_sale(db: Database, keybox: KeyBox, telegram: Telegram) -> tuple[World, str]:
    """An event with a name of its own (other tests' events share the listing)."""
    name = f"Gala {secrets.token_hex(3)}"
    world = await make_world(db, keybox, name=name)
    await sandbox_account(db, keybox, world.organizer_id, telegram.live.url)
    return world, name


async def choose_event(chat: Chat, home: dict[str, Any], name: str) -> dict[str, Any]:
    screen = await chat.tap(home, "Buy tickets")
    while not any(label.startswith(name) for label in buttons(screen)):
        screen = await chat.tap(screen, "More")  # other tests' events come first
    return await chat.tap(screen, name)


async def to_confirm(chat: Chat, home: dict[str, Any], name: str) -> dict[str, Any]:
    """Buttons all the way, but the quantity, which is typed."""
    event = await choose_event(chat, home, name)
    assert "choose a ticket" in event["text"], event["text"]
    quantity = await chat.tap(event, "General")
    assert "How many" in quantity["text"]
    payer = await chat.send(chat.user.text("2"))
    method = await chat.tap(payer, "This number")
    confirm = await chat.tap(method, "EcoCash")
    assert "2 x General" in confirm["text"], confirm["text"]
    assert "Confirm and pay" in buttons(confirm)
    return confirm


async def test_an_unlinked_chat_is_asked_for_its_number(telegram: Telegram, db: Database) -> None:
    chat = Chat(telegram)
    for update in (chat.user.text("/start"), chat.user.text("hello")):
        status, answer = await chat.post(update)
        assert status == 200
        assert answer["method"] == "sendMessage" and answer["text"] == ASK_PHONE
        assert answer["chat_id"] == chat.user.chat_id
        [[share]] = answer["reply_markup"]["keyboard"]
        assert share == {"text": SHARE_BUTTON, "request_contact": True}
    assert telegram.fake.sent(chat.user.chat_id) == []
    async with db.read() as reader:
        assert await telegram_chats.phone_of(reader, chat.user.chat_id) is None


async def test_someone_elses_contact_is_refused(telegram: Telegram, db: Database) -> None:
    chat = Chat(telegram)
    status, answer = await chat.post(chat.user.contact(chat.phone, user_id=chat.user.user_id + 1))
    assert status == 200 and answer["text"] == NOT_OWN
    assert answer["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    async with db.read() as reader:
        assert await telegram_chats.chat_of(reader, chat.phone) is None
    tap = chat.user.tap("00000000:1")  # a button before any number is known: acknowledged
    status, answer = await chat.post(tap)
    assert status == 200 and answer["method"] == "answerCallbackQuery"
    assert answer["callback_query_id"] == tap["callback_query"]["id"] and answer["show_alert"]


async def test_own_contact_opens_home_and_buttons_reach_confirm(
    telegram: Telegram, db: Database, keybox: KeyBox
) -> None:
    _, name = await on_sale(db, keybox, telegram)
    chat = Chat(telegram)
    home = await chat.linked()
    assert "Tikiti tickets" in home["text"]
    assert {"Buy tickets", "My tickets", "Language"} <= set(buttons(home))
    async with db.read() as reader:
        assert await telegram_chats.chat_of(reader, chat.phone) == chat.user.chat_id
    events = await chat.tap(home, "Buy tickets")
    assert "Choose an event" in events["text"]
    assert {"Back", "Home"} <= set(buttons(events))
    for data in buttons(events).values():
        assert len(data.encode()) <= 64 and data.split(":")[0] == button(events, "Home")[:8]
    home_again = await chat.tap(events, "Home")
    await to_confirm(chat, home_again, name)


async def test_a_button_tap_is_acknowledged_and_a_stale_one_refused(
    telegram: Telegram, db: Database, keybox: KeyBox
) -> None:
    await on_sale(db, keybox, telegram)
    chat = Chat(telegram)
    home = await chat.linked()
    tap = chat.user.tap(button(home, "Buy tickets"))
    before = len(telegram.fake.sent(chat.user.chat_id))
    status, answer = await chat.post(tap)
    assert status == 200
    assert answer == {
        "method": "answerCallbackQuery",
        "callback_query_id": tap["callback_query"]["id"],
    }
    events = await chat.next_message(before)
    assert "Choose an event" in events["text"]
    stale = await chat.tap(home, "My tickets")  # a button of the older message
    assert "That menu has changed" in stale["text"]
    assert "Choose an event" in stale["text"]  # and the current screen is shown again


async def test_a_retried_update_sends_one_reply(telegram: Telegram, db: Database) -> None:
    chat = Chat(telegram)
    await chat.linked()
    update = chat.user.text("/events")
    await chat.send(update)
    assert (await chat.post(update))[0] == 200  # Telegram tries again
    await asyncio.sleep(0.5)
    assert len(telegram.fake.sent(chat.user.chat_id)) == 2  # the home menu and one reply
    key = f"reply:telegram:{chat.user.chat_id}:{update['update_id']}"
    async with db.session() as session:
        queued = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedupe_key == key)
        )
    assert queued == 1


async def test_a_ticket_bought_on_telegram_arrives_as_its_qr_picture(
    telegram: Telegram, db: Database, keybox: KeyBox
) -> None:
    _, name = await on_sale(db, keybox, telegram)
    chat = Chat(telegram)
    confirm = await to_confirm(chat, await chat.linked(), name)
    paying = await chat.tap(confirm, "Confirm and pay")
    assert "Approve" in paying["text"], paying["text"]
    await approve(telegram.live, chat)  # type: ignore[arg-type]  # a chat has a phone too
    [order] = await settled(db, chat.phone, OrderStatus.FULFILLED)
    assert order.channel == "telegram"
    async with db.session() as session:
        tickets = list(
            await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.order_id == order.id, OutboxMessage.kind == "ticket"
                )
            )
        )
    conversations = telegram.live.app[DIALOG]
    assert isinstance(conversations, Conversations) and tickets
    before = len(telegram.fake.sent(chat.user.chat_id))
    for message_id in tickets:  # what the worker does
        await delivery.deliver_one(db, conversations.senders, conversations.links, message_id)
    photos = telegram.fake.sent(chat.user.chat_id)[before:]
    assert photos and all(p["photo"].startswith(f"{telegram.live.url}/t/") for p in photos)


async def test_wrong_secret_bad_updates_and_no_bot(
    telegram: Telegram,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    chat = Chat(telegram)
    update = chat.user.text("/start")
    assert (await chat.post(update, secret="wrong"))[0] == 403
    assert (await chat.post(update, secret=""))[0] == 403
    async with telegram.live.http.post(
        telegram.live.url + PATH,
        data=json.dumps(update),
        headers={"X-Telegram-Bot-Api-Secret-Token": telegram.fake.secret},
    ) as response:
        assert response.status == 403  # not application/json
    assert (await chat.post(update, raw=b"{not json"))[0] == 400
    assert (await chat.post(update, raw=b'{"update_id": 1, "message": 7}'))[0] == 400
    assert telegram.fake.sent(chat.user.chat_id) == []
    app = create_app(settings_for(database_url, redis_url, redis_prefix))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(PATH, json=update)
        assert response.status == 404
