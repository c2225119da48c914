"""Sending outbox messages to Telegram chats through python-telegram-bot: replies with their
buttons, tickets as their QR picture (Telegram fetches it from our media link)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram import Message as SentMessage
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError

from tikiti.channels.telegram import MAX_CALLBACK, MAX_TEXT, NAVIGATION, split_callback
from tikiti.core import telegram_chats
from tikiti.core.db import Database
from tikiti.core.ports import DeliveryError, Outgoing

logger = logging.getLogger(__name__)
MAX_CAPTION = int(MessageLimit.CAPTION_LENGTH)
DEFAULT_BASE_URL = "https://api.telegram.org/bot"


def keyboard(options: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """One choice per row, then Back, Home and More side by side in a last row."""
    choices: list[list[InlineKeyboardButton]] = []
    moves: list[InlineKeyboardButton] = []
    for data, label in options:
        pressed = split_callback(data)
        if pressed is None or len(data.encode()) > MAX_CALLBACK:
            logger.warning("telegram button %r left out: its data is not ours", label[:40])
            continue
        button = InlineKeyboardButton(label, callback_data=data)
        if pressed[1] in NAVIGATION:
            moves.append(button)
        else:
            choices.append([button])
    rows = [*choices, moves] if moves else choices
    return InlineKeyboardMarkup(rows) if rows else None


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TelegramSender:
    """A MessageSender for channel "telegram": the outbox addresses buyers by phone number,
    so each send first finds the chat that shared that number."""

    def __init__(self, token: str, db: Database, *, base_url: str = "") -> None:
        self.bot = Bot(token, base_url=base_url or DEFAULT_BASE_URL)
        self.db = db
        self._ready = asyncio.Lock()

    async def send(self, message: Outgoing) -> str:
        chat_id = await self._chat(message.address)
        try:
            await self._initialize()
            sent = await self._send(chat_id, message)
        except Forbidden as error:  # the buyer blocked the bot: retrying will not change that
            raise DeliveryError(f"telegram: {error}"[:300], permanent=True) from None
        except BadRequest as error:  # e.g. chat not found: the same request fails again
            raise DeliveryError(f"telegram: {error}"[:300], permanent=True) from None
        except InvalidToken:  # its message repeats the token: not one for the outbox's record
            raise DeliveryError("telegram refused the bot token") from None
        except TelegramError as error:  # 429, 5xx, network: tried again later
            raise DeliveryError(f"telegram: {error}"[:300]) from None
        return f"{chat_id}:{sent.message_id}"

    async def _chat(self, phone: str) -> int:
        try:
            async with self.db.read() as reader:
                chat_id = await telegram_chats.chat_of(reader, phone)
        except (SQLAlchemyError, OSError) as error:
            raise DeliveryError(f"telegram chat lookup failed: {error}"[:300]) from None
        if chat_id is None:
            raise DeliveryError("no Telegram chat has shared this number", permanent=True)
        return chat_id

    async def _initialize(self) -> None:
        """Once per process (it asks getMe); a failure is tried again with the next send."""
        async with self._ready:
            await self.bot.initialize()

    async def _send(self, chat_id: int, message: Outgoing) -> SentMessage:
        markup = keyboard(message.options)
        if message.media_url:
            try:
                return await self._photo(chat_id, message, markup)
            except BadRequest as error:  # Telegram could not fetch the picture: send the words
                logger.warning("telegram photo for message %s refused: %s", message.id, error)
        return await self.bot.send_message(
            chat_id, cut(message.body, MAX_TEXT), reply_markup=markup
        )

    async def _photo(
        self, chat_id: int, message: Outgoing, markup: InlineKeyboardMarkup | None
    ) -> SentMessage:
        assert message.media_url is not None
        if len(message.body) <= MAX_CAPTION:
            return await self.bot.send_photo(
                chat_id, message.media_url, caption=message.body or None, reply_markup=markup
            )
        await self.bot.send_photo(chat_id, message.media_url)
        return await self.bot.send_message(
            chat_id, cut(message.body, MAX_TEXT), reply_markup=markup
        )

    async def close(self) -> None:
        await self.bot.shutdown()
