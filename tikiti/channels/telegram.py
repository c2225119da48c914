"""Telegram: updates in through a webhook (the booking dialog by command, text or button),
replies out as messages with buttons.

Sans-I/O at heart: `parse` checks the secret and reads the Update, `reply_message` renders a
Reply; the view glues them to the chat table and the dialog. A chat buys nothing until its
owner shares their own phone number: until then every message is answered with a request for it.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from telegram import CallbackQuery, KeyboardButton, Message, ReplyKeyboardMarkup, Update
from telegram.constants import ChatType, InlineKeyboardButtonLimit, MessageLimit

from tikiti.channels.base import DIALOG, ChannelError, Dialog
from tikiti.core import outbox, telegram_chats
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput
from tikiti.core.phones import normalize_phone
from tikiti.core.telegram_chats import ChatUser
from tikiti.dialogs.types import Inbound, Limits, Reply
from tikiti.typedefs import DATABASE, SETTINGS

logger = logging.getLogger(__name__)
CHANNEL = "telegram"
PATH = "/channels/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
LIMITS = Limits(1024)  # a screen of text above its buttons; options still page at nine
MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
MAX_CALLBACK = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # bytes
NAVIGATION = frozenset({"0", "00", "98"})  # Back, Home, More: shown as a row of their own
# The bot's menu commands, as the keywords every chat channel understands.
COMMANDS = {"start": "00", "events": "EVENTS", "tickets": "TICKETS", "lang": "LANG", "help": "HELP"}
_CALLBACK = re.compile(r"([0-9a-f]{0,16}):([0-9]{1,2})")
_NAV = re.compile(r"(?<!\S)(00|0|98) (.+?)(?= (?:00|0|98) |$)")

SHARE_BUTTON = "Share my phone number"
ASK_PHONE = (
    "Welcome to Tikiti! To buy tickets, share your phone number with the button below: "
    "mobile money payments and your tickets go with it."
)
NOT_OWN = "Please share your own number with the button below, not someone else's contact."
UNUSABLE = "That number cannot pay by mobile money. Please share your mobile number."
SHARE_FIRST = "Please share your phone number first: send /start."


@dataclass(frozen=True, slots=True)
class Contact:
    phone: str | None  # +E.164; None when it is no number we can sell to
    own: bool  # the sender's own number, not a contact card of someone else


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update in the terms Tikiti cares about."""

    update_id: int
    user: ChatUser
    text: str | None = None  # what the dialog gets; None for what it cannot read (a sticker)
    screen: str | None = None  # the screen a tapped button belongs to
    callback_id: str | None = None  # a button tap, answered so the client's spinner stops
    contact: Contact | None = None  # sharing it starts the conversation at home


def parse(headers: Mapping[str, str], body: bytes, secret: str) -> Incoming | None:
    """The update Telegram posted, or None for kinds we leave alone (edits, groups, channels).
    Raises ChannelError: 403 for a wrong secret or content type, 400 for an unreadable update."""
    lowered = {key.lower(): value for key, value in headers.items()}
    given = lowered.get(SECRET_HEADER.lower(), "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise ChannelError("wrong or missing secret token", status=403)
    if lowered.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ChannelError("content type is not application/json", status=403)
    update = _update(body)
    if update.callback_query is not None:
        return _from_button(update.update_id, update.callback_query)
    if update.message is not None:
        return _from_message(update.update_id, update.message)
    return None


def _update(body: bytes) -> Update:
    try:
        update = Update.de_json(json.loads(body), None)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ChannelError(f"not a Telegram update: {error}"[:200]) from None
    if not isinstance(update.update_id, int) or isinstance(update.update_id, bool):
        raise ChannelError("update_id is not a number")
    return update


def _user(chat_id: object, user_id: object, first_name: object) -> ChatUser:
    if not isinstance(chat_id, int) or not isinstance(user_id, int):
        raise ChannelError("chat or user id is not a number")
    return ChatUser(chat_id, user_id, first_name if isinstance(first_name, str) else "")


def _from_message(update_id: int, message: Message) -> Incoming | None:
    sender = message.from_user
    if message.chat.type != ChatType.PRIVATE or sender is None:
        return None  # a chat buys for the phone behind it: groups have no one phone
    user = _user(message.chat.id, sender.id, sender.first_name)
    if message.contact is not None:
        own = message.contact.user_id == sender.id
        contact = Contact(contact_phone(message.contact.phone_number), own)
        return Incoming(update_id, user, text="00", contact=contact)
    text = message.text
    if text is None:
        return Incoming(update_id, user)
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ChannelError("text is not text or too long")
    return Incoming(update_id, user, text=command(text) if text.startswith("/") else text.strip())


def _from_button(update_id: int, query: CallbackQuery) -> Incoming | None:
    chat = query.message.chat if query.message is not None else None
    if chat is not None and chat.type != ChatType.PRIVATE:
        return None
    user = _user(
        chat.id if chat else query.from_user.id, query.from_user.id, query.from_user.first_name
    )
    pressed = split_callback(query.data) if isinstance(query.data, str) else None
    if pressed is None:  # not one of our buttons (or from a much older version): just answer it
        return Incoming(update_id, user, callback_id=str(query.id))
    screen, key = pressed
    return Incoming(update_id, user, text=key, screen=screen, callback_id=str(query.id))


def command(text: str) -> str:
    """`/events@TikitiBot` → EVENTS; `/lang sn` → LANG sn; an unknown command gets the help."""
    name, _, rest = text[1:].partition(" ")
    keyword = COMMANDS.get(name.split("@")[0].lower(), "HELP")
    if keyword == "LANG" and rest.strip():
        return f"LANG {rest.strip()}"
    return keyword


def contact_phone(raw: object) -> str | None:
    """Telegram gives a shared number in international form, usually without the plus."""
    if not isinstance(raw, str):
        return None
    digits = raw.strip()
    try:
        return normalize_phone(digits if digits.startswith("+") else "+" + digits)
    except InvalidInput:
        return None


def callback_data(screen: str, key: str) -> str:
    """A button's data names the screen it belongs to, so a tap on an old message's button
    is refused rather than acted on the screen shown now."""
    data = f"{screen}:{key}"
    if len(data.encode()) > MAX_CALLBACK:
        raise ValueError(f"callback data longer than {MAX_CALLBACK} bytes: {data!r}")
    return data


def split_callback(data: str) -> tuple[str | None, str] | None:
    """(screen, key) from a button's data; None for data that is not ours."""
    match = _CALLBACK.fullmatch(data)
    if match is None:
        return None
    return match.group(1) or None, match.group(2)


def navigation(text: str) -> list[tuple[str, str]]:
    """The translated `0 Back 00 Home 98 More` line as (key, label) pairs."""
    return [(m.group(1), m.group(2).strip()) for m in _NAV.finditer(text.strip())]


def to_inbound(incoming: Incoming, phone: str) -> Inbound:
    assert incoming.text is not None
    return Inbound(
        channel=CHANNEL,
        address=phone,
        session_key=f"tg:{incoming.user.chat_id}",
        text=incoming.text,
        dedupe_key=f"tg:{incoming.update_id}",
        chat=True,
        screen=incoming.screen,
    )


def reply_message(reply: Reply, phone: str, incoming: Incoming) -> outbox.Message:
    """The reply as an outbox message: its text, and its options and navigation as buttons
    whose data carries the screen. Keyed by chat and update, so a retried update sends once."""
    choices = [(option.key, option.label) for option in reply.options]
    buttons = tuple(
        (callback_data(reply.screen, key), label)
        for key, label in [*choices, *navigation(reply.navigation)]
    )
    body = "\n".join(part for part in (reply.text, reply.navigation) if part)
    return outbox.Message(
        kind="reply",
        channel=CHANNEL,
        address=phone,
        language=reply.language,
        body=(body or reply.as_text() or "…")[:MAX_TEXT],
        dedupe_key=f"reply:{CHANNEL}:{incoming.user.chat_id}:{incoming.update_id}",
        options=buttons,
    )


def ask_for_phone(chat_id: int, text: str) -> dict[str, Any]:
    """A webhook answer that asks for the number with a button sharing the sender's own."""
    button = KeyboardButton(SHARE_BUTTON, request_contact=True)
    markup = ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
    return {
        "method": "sendMessage",
        "chat_id": chat_id,
        "text": text,
        "reply_markup": markup.to_dict(),
    }


def answer_button(callback_id: str, text: str = "") -> dict[str, Any]:
    """A webhook answer that stops the tapped button's spinner (with a note, if any)."""
    answer: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": callback_id}
    if text:
        answer.update(text=text, show_alert=True)
    return answer


async def webhook(request: web.Request) -> web.Response:
    telegram = request.app[SETTINGS].telegram
    if telegram is None:
        raise web.HTTPNotFound()
    try:
        incoming = parse(request.headers, await request.read(), telegram.secret)
    except ChannelError as error:
        logger.warning("telegram update refused: %s", error)
        return web.Response(status=error.status, text=str(error))
    if incoming is None:
        return web.Response(text="OK")
    return await respond(request.app[DATABASE], request.app[DIALOG], incoming)


async def respond(db: Database, dialog: Dialog, incoming: Incoming) -> web.Response:
    """Answers go either as the webhook's own answer (a Bot API call Telegram makes for us:
    the phone request, the button's acknowledgement) or, for dialog replies, via the outbox."""
    contact, chat_id = incoming.contact, incoming.user.chat_id
    if contact is not None and not (contact.own and contact.phone):
        return web.json_response(ask_for_phone(chat_id, UNUSABLE if contact.own else NOT_OWN))
    try:
        phone = await _phone(db, incoming)
    except (SQLAlchemyError, OSError) as error:
        logger.warning("telegram chat %s not looked up: %s", chat_id, error)
        return web.Response(status=503, text="try again")
    if phone is None:
        if incoming.callback_id is not None:
            return web.json_response(answer_button(incoming.callback_id, SHARE_FIRST))
        return web.json_response(ask_for_phone(chat_id, ASK_PHONE))
    if incoming.text is not None:
        reply = await dialog.handle(to_inbound(incoming, phone), LIMITS)
        if not await dialog.send(reply_message(reply, phone, incoming)):
            return web.Response(status=503, text="try again")
        dialog.after(reply)
    if incoming.callback_id is not None:
        return web.json_response(answer_button(incoming.callback_id))
    return web.Response(text="OK")


async def _phone(db: Database, incoming: Incoming) -> str | None:
    """The chat's number: the one it shares now (its owner's own), or the one it shared before."""
    async with db.transaction() as session:
        if incoming.contact is not None and incoming.contact.phone:
            await telegram_chats.link(session, incoming.user, incoming.contact.phone)
            logger.info("telegram chat %s linked to a phone number", incoming.user.chat_id)
            return incoming.contact.phone
        phone = await telegram_chats.phone_of(session, incoming.user.chat_id)
        if phone is None:
            await telegram_chats.met(session, incoming.user)
        return phone


def add_routes(app: web.Application) -> None:
    """Always routed; it answers 404 unless a bot is configured."""
    app.router.add_post(PATH, webhook, name="telegram")
