"""The Telegram sender through the real python-telegram-bot, against a local fake Bot API,
with chats linked in the real database."""

from __future__ import annotations

import argparse
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from tests.conftest import LINKS
from tests.factories import phone
from tests.fakes.telegram import FakeTelegram
from tikiti import cli_telegram
from tikiti.channels.telegram import COMMANDS
from tikiti.channels.telegram_sender import TelegramSender
from tikiti.config import Settings
from tikiti.core import delivery, outbox, telegram_chats
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput
from tikiti.core.models import OutboxMessage, OutboxStatus
from tikiti.core.ports import DeliveryError, Outgoing
from tikiti.core.telegram_chats import ChatUser


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sender(fake: FakeTelegram, db: Database) -> AsyncIterator[TelegramSender]:
    telegram = TelegramSender(fake.token, db, base_url=f"{fake.base_url}/bot")
    yield telegram
    await telegram.close()


async def linked(db: Database) -> tuple[int, str]:
    """A fresh chat that has shared a fresh number."""
    chat_id = 6_000_000_000 + secrets.randbelow(10**9)
    number = phone(secrets.randbelow(10**7))
    async with db.transaction() as session:
        await telegram_chats.link(session, ChatUser(chat_id, chat_id, "Rudo"), number)
    return chat_id, number


def outgoing(address: str, body: str = "Choose an event", **fields: object) -> Outgoing:
    values: dict[str, object] = {"media_url": None, "attempts": 1, **fields}
    return Outgoing(id=1, channel="telegram", address=address, body=body, **values)  # type: ignore[arg-type]


async def test_a_reply_goes_with_its_buttons(
    fake: FakeTelegram, sender: TelegramSender, db: Database
) -> None:
    chat_id, number = await linked(db)
    options = (("ab12cd34:1", "Zimfest"), ("ab12cd34:0", "Back"), ("ab12cd34:00", "Home"))
    provider_id = await sender.send(outgoing(number, options=options))
    [sent] = fake.sent(chat_id)
    assert provider_id.startswith(f"{chat_id}:")
    assert sent["text"] == "Choose an event"
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Zimfest", "callback_data": "ab12cd34:1"}],
            [
                {"text": "Back", "callback_data": "ab12cd34:0"},
                {"text": "Home", "callback_data": "ab12cd34:00"},
            ],
        ]
    }
    await sender.send(outgoing(number, "Thanks"))  # no options: no keyboard; getMe asked once
    assert "reply_markup" not in fake.sent(chat_id)[-1]
    assert [method for method, _ in fake.calls].count("getMe") == 1


async def test_a_ticket_goes_as_its_qr_picture(
    fake: FakeTelegram, sender: TelegramSender, db: Database
) -> None:
    chat_id, number = await linked(db)
    picture = "https://tickets.example.org/t/abc.png"
    await sender.send(outgoing(number, "Your ticket ZIM-1234", media_url=picture))
    [sent] = fake.sent(chat_id)
    assert sent["photo"] == picture and sent["caption"] == "Your ticket ZIM-1234"
    await sender.send(outgoing(number, "x" * 2000, media_url=picture))  # too long for a caption
    photo, words = fake.sent(chat_id)[1:]
    assert photo["photo"] == picture and "caption" not in photo
    assert words["text"] == "x" * 2000


async def test_a_picture_telegram_cannot_fetch_still_sends_the_words(
    fake: FakeTelegram, sender: TelegramSender, db: Database
) -> None:
    chat_id, number = await linked(db)
    fake.unfetchable_photos = True
    await sender.send(outgoing(number, "Your ticket", media_url="http://127.0.0.1:1/t/x.png"))
    assert [sent.get("text") for sent in fake.sent(chat_id)] == ["Your ticket"]


async def test_a_number_no_chat_has_shared_is_a_permanent_failure(
    fake: FakeTelegram, sender: TelegramSender
) -> None:
    with pytest.raises(DeliveryError) as failed:
        await sender.send(outgoing(phone(secrets.randbelow(10**7))))
    assert failed.value.permanent and fake.sent() == []


async def test_a_blocked_bot_is_permanent_and_throttling_is_retried(
    fake: FakeTelegram, sender: TelegramSender, db: Database
) -> None:
    chat_id, number = await linked(db)
    fake.blocked.add(chat_id)
    with pytest.raises(DeliveryError) as blocked:
        await sender.send(outgoing(number))
    assert blocked.value.permanent
    fake.blocked.clear()
    fake.throttle_next = 1
    with pytest.raises(DeliveryError) as throttled:
        await sender.send(outgoing(number))
    assert not throttled.value.permanent
    fake.fail_next = 1  # a 500 from Telegram
    with pytest.raises(DeliveryError) as broken:
        await sender.send(outgoing(number))
    assert not broken.value.permanent
    await sender.send(outgoing(number))
    assert len(fake.sent(chat_id)) == 1


async def test_a_number_shared_again_moves_to_the_newer_chat(db: Database) -> None:
    old_chat, number = await linked(db)
    new_chat = old_chat + 1
    async with db.transaction() as session:
        await telegram_chats.link(session, ChatUser(new_chat, new_chat, "Rudo"), number)
    async with db.read() as reader:
        assert await telegram_chats.chat_of(reader, number) == new_chat
        assert await telegram_chats.phone_of(reader, old_chat) is None


async def test_the_outbox_delivers_through_the_sender(
    fake: FakeTelegram, sender: TelegramSender, db: Database
) -> None:
    chat_id, number = await linked(db)
    message = outbox.Message(
        kind="reply",
        channel="telegram",
        address=number,
        language="en",
        body="Home",
        dedupe_key=f"test:telegram:{chat_id}",
        options=(("00ff00ff:1", "Buy tickets"),),
    )
    async with db.transaction() as session:
        message_id = await outbox.enqueue(session, message)
    assert message_id is not None
    assert await delivery.deliver_one(db, {"telegram": sender}, LINKS, message_id)
    async with db.session() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
    assert row is not None and row.status == OutboxStatus.SENT
    assert row.provider_message_id is not None and row.provider_message_id.startswith(f"{chat_id}:")
    [sent] = fake.sent(chat_id)
    assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "Buy tickets"


async def test_the_webhook_command_points_telegram_at_us(fake: FakeTelegram) -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://unused/unused",
        redis_url="redis://unused",
        secret_key="k" * 40,
        public_url="https://tickets.example.org",
        telegram=fake.settings(),
    )
    assert await cli_telegram.run(settings, argparse.Namespace(drop_pending=True)) == 0
    [params] = [params for method, params in fake.calls if method == "setWebhook"]
    assert params["url"] == "https://tickets.example.org/channels/telegram"
    assert params["secret_token"] == fake.secret
    assert params["allowed_updates"] == ["message", "callback_query"]
    assert params["drop_pending_updates"] in ("true", "True", True)
    [menu] = [params for method, params in fake.calls if method == "setMyCommands"]
    assert {c["command"] for c in menu["commands"]} == set(COMMANDS)
    with pytest.raises(InvalidInput):
        await cli_telegram.run(settings.with_overrides(telegram=None), argparse.Namespace())
    wrong = settings.with_overrides(telegram=fake.settings(token="1:wrong"))
    with pytest.raises(InvalidInput) as refused:
        await cli_telegram.run(wrong, argparse.Namespace(drop_pending=False))
    assert "1:wrong" not in str(refused.value)
