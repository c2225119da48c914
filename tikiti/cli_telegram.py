"""`tikiti telegram webhook`: tell Telegram where to post the bot's updates, with the secret it
must send back, and which commands its menu offers, so a deployment needs no manual Bot API call."""

from __future__ import annotations

import argparse

from telegram import Bot, BotCommand
from telegram.error import InvalidToken, TelegramError

from tikiti.channels.telegram import PATH
from tikiti.channels.telegram_sender import DEFAULT_BASE_URL
from tikiti.config import Settings
from tikiti.core.errors import InvalidInput

# Only what the channel reads: anything else would be posted, answered and ignored.
ALLOWED_UPDATES = ["message", "callback_query"]
# The bot's menu (the "/" button): each maps to a keyword in channels.telegram.COMMANDS.
MENU = [
    BotCommand("start", "Start again at the menu"),
    BotCommand("events", "Events on sale"),
    BotCommand("tickets", "My tickets"),
    BotCommand("lang", "Language"),
    BotCommand("help", "How to buy"),
]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("telegram", help="the Telegram bot")
    sub = parser.add_subparsers(dest="telegram_command", required=True)
    webhook = sub.add_parser("webhook", help="point the bot's webhook at TIKITI_PUBLIC_URL")
    webhook.add_argument(
        "--drop-pending", action="store_true", help="discard updates waiting at Telegram"
    )


async def run(settings: Settings, args: argparse.Namespace) -> int:
    telegram = settings.telegram
    if telegram is None:
        raise InvalidInput("TIKITI_TELEGRAM_TOKEN is not set", field="telegram")
    url = settings.public_url.rstrip("/") + PATH
    bot = Bot(telegram.token, base_url=telegram.base_url or DEFAULT_BASE_URL)
    try:
        async with bot:
            await bot.set_webhook(
                url,
                secret_token=telegram.secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=args.drop_pending,
            )
            await bot.set_my_commands(MENU)
    except InvalidToken:  # its message repeats the token, which has no place on a terminal
        raise InvalidInput("Telegram rejected TIKITI_TELEGRAM_TOKEN", field="telegram") from None
    except TelegramError as error:
        raise InvalidInput(f"Telegram refused the webhook: {error}", field="telegram") from None
    print(f"Telegram posts the bot's updates to {url}.")
    return 0
