"""Reading Telegram updates and rendering replies as buttons: pure, no network, no database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tikiti.channels.base import ChannelError
from tikiti.channels.telegram import (
    MAX_CALLBACK,
    Incoming,
    ask_for_phone,
    callback_data,
    command,
    contact_phone,
    navigation,
    parse,
    reply_message,
    split_callback,
    to_inbound,
)
from tikiti.channels.telegram_sender import keyboard
from tikiti.core.telegram_chats import ChatUser
from tikiti.dialogs.types import Option, Reply

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "telegram"
SECRET = "s3cret-Token_for-tests"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


def sample(name: str) -> bytes:
    return (SAMPLES / f"{name}.json").read_bytes()


def body(update: dict[str, Any]) -> bytes:
    return json.dumps(update).encode()


def test_a_command_becomes_its_keyword() -> None:
    incoming = parse(HEADERS, sample("start_command"), SECRET)
    assert incoming is not None
    assert incoming.text == "00" and incoming.update_id == 734920101
    assert incoming.user == ChatUser(5123456789, 5123456789, "Tendai")
    inbound = to_inbound(incoming, "+263771234567")
    assert inbound.channel == "telegram" and inbound.chat
    assert inbound.session_key == "tg:5123456789" and inbound.dedupe_key == "tg:734920101"
    assert inbound.address == "+263771234567" and inbound.screen is None


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("/start", "00"),
        ("/start from-a-poster", "00"),
        ("/events@TikitiBot", "EVENTS"),
        ("/Tickets", "TICKETS"),
        ("/lang", "LANG"),
        ("/lang sn", "LANG sn"),
        ("/help", "HELP"),
        ("/whatever", "HELP"),
    ],
)
def test_commands(text: str, keyword: str) -> None:
    assert command(text) == keyword


def test_an_own_contact_is_accepted_in_international_form() -> None:
    incoming = parse(HEADERS, sample("contact_own"), SECRET)
    assert incoming is not None and incoming.contact is not None
    assert incoming.contact.own and incoming.contact.phone == "+263771234567"
    assert incoming.text == "00"  # sharing it starts the conversation at home


def test_someone_elses_contact_is_marked_not_own() -> None:
    update = json.loads(sample("contact_own"))
    update["message"]["contact"]["user_id"] = 999
    incoming = parse(HEADERS, body(update), SECRET)
    assert incoming is not None and incoming.contact is not None
    assert not incoming.contact.own
    del update["message"]["contact"]["user_id"]  # a card typed in by hand has no user at all
    incoming = parse(HEADERS, body(update), SECRET)
    assert incoming is not None and incoming.contact is not None and not incoming.contact.own


@pytest.mark.parametrize(
    ("raw", "phone"),
    [("263771234567", "+263771234567"), ("+263771234567", "+263771234567"), ("8881234", None)],
)
def test_contact_numbers(raw: str, phone: str | None) -> None:
    assert contact_phone(raw) == phone


def test_a_button_tap_carries_its_screen_and_key() -> None:
    incoming = parse(HEADERS, sample("callback_query"), SECRET)
    assert incoming is not None
    assert (incoming.text, incoming.screen) == ("1", "3fa2b91c")
    assert incoming.callback_id == "2201085771234567890"
    assert to_inbound(incoming, "+263771234567").screen == "3fa2b91c"


def test_a_button_that_is_not_ours_is_only_acknowledged() -> None:
    update = json.loads(sample("callback_query"))
    update["callback_query"]["data"] = "buy:evt1"
    incoming = parse(HEADERS, body(update), SECRET)
    assert incoming is not None and incoming.text is None and incoming.callback_id


def test_groups_edits_and_stickers() -> None:
    assert parse(HEADERS, sample("group_message"), SECRET) is None
    edited = json.loads(sample("start_command"))
    edited["edited_message"] = edited.pop("message")
    assert parse(HEADERS, body(edited), SECRET) is None
    sticker = json.loads(sample("start_command"))
    del sticker["message"]["text"], sticker["message"]["entities"]
    sticker["message"]["sticker"] = {
        "file_id": "x", "file_unique_id": "y", "width": 1, "height": 1,
        "is_animated": False, "is_video": False, "type": "regular",
    }  # fmt: skip
    incoming = parse(HEADERS, body(sticker), SECRET)
    assert incoming is not None and incoming.text is None and incoming.contact is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {**HEADERS, "X-Telegram-Bot-Api-Secret-Token": "wrong"},
        {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"},
    ],
)
def test_a_wrong_secret_or_content_type_is_forbidden(headers: dict[str, str]) -> None:
    with pytest.raises(ChannelError) as refused:
        parse(headers, sample("start_command"), SECRET)
    assert refused.value.status == 403


def test_header_names_are_case_insensitive() -> None:
    lowered = {key.lower(): value + "; charset=utf-8" if key == "Content-Type" else value
               for key, value in HEADERS.items()}  # fmt: skip
    assert parse(lowered, sample("start_command"), SECRET) is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"update_id": "x"}',
        b'{"update_id": 1, "message": {"message_id": 1}}',
        b'{"update_id": 1, "message": "hello"}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": "x",'
        b' "type": "private"}, "from": {"id": 1, "is_bot": false, "first_name": "A"},'
        b' "text": "hi"}}',
    ],
)
def test_unreadable_updates_are_bad_requests(raw: bytes) -> None:
    with pytest.raises(ChannelError) as refused:
        parse(HEADERS, raw, SECRET)
    assert refused.value.status == 400


def test_callback_data_stays_within_64_bytes() -> None:
    assert callback_data("3fa2b91c", "98") == "3fa2b91c:98"
    assert len(callback_data("f" * 16, "99").encode()) <= MAX_CALLBACK
    assert split_callback("3fa2b91c:00") == ("3fa2b91c", "00")
    assert split_callback(":1") == (None, "1")
    assert split_callback("3fa2b91c:1:2") is None
    with pytest.raises(ValueError):
        callback_data("x" * 60, "12345")


@pytest.mark.parametrize(
    ("line", "pairs"),
    [
        ("0 Back 00 Home", [("0", "Back"), ("00", "Home")]),
        ("0 Back 00 Home 98 More", [("0", "Back"), ("00", "Home"), ("98", "More")]),
        ("0 Dzokera 00 Kumba 98 Zvimwe", [("0", "Dzokera"), ("00", "Kumba"), ("98", "Zvimwe")]),
        ("98 More", [("98", "More")]),
        ("", []),
    ],
)
def test_navigation_line(line: str, pairs: list[tuple[str, str]]) -> None:
    assert navigation(line) == pairs


def incoming(update_id: int = 5) -> Incoming:
    return Incoming(update_id, ChatUser(42, 42, "A"), text="1")


def test_a_reply_becomes_a_message_with_buttons_naming_its_screen() -> None:
    reply = Reply(
        "Choose an event",
        (Option("1", "Zimfest"), Option("2", "Jazz night")),
        "0 Back 00 Home 98 More",
        language="sn",
        screen="0a1b2c3d",
    )
    message = reply_message(reply, "+263771234567", incoming(77))
    assert message.channel == "telegram" and message.kind == "reply"
    assert message.address == "+263771234567" and message.language == "sn"
    assert message.dedupe_key == "reply:telegram:42:77"
    assert message.body == "Choose an event\n0 Back 00 Home 98 More"
    assert message.options == (
        ("0a1b2c3d:1", "Zimfest"),
        ("0a1b2c3d:2", "Jazz night"),
        ("0a1b2c3d:0", "Back"),
        ("0a1b2c3d:00", "Home"),
        ("0a1b2c3d:98", "More"),
    )
    assert all(len(data.encode()) <= MAX_CALLBACK for data, _ in message.options)


def test_the_keyboard_puts_choices_in_rows_and_navigation_last() -> None:
    markup = keyboard(
        [("ab:1", "Zimfest"), ("ab:2", "Jazz"), ("ab:0", "Back"), ("ab:00", "Home"), ("x", "?")]
    )
    assert markup is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]
    assert rows == [
        [("Zimfest", "ab:1")],
        [("Jazz", "ab:2")],
        [("Back", "ab:0"), ("Home", "ab:00")],
    ]
    assert keyboard([]) is None


def test_the_phone_request_is_a_contact_button() -> None:
    answer = ask_for_phone(42, "Share please")
    assert answer["method"] == "sendMessage" and answer["chat_id"] == 42
    button = answer["reply_markup"]["keyboard"][0][0]
    assert button["request_contact"] is True
    json.dumps(answer)  # the webhook's answer is JSON as it stands
