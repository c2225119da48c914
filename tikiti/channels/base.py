"""What every channel shares: its one error, and the dialog port the composition root plugs in."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from tikiti.core.outbox import Message
from tikiti.dialogs.types import Inbound, Limits, Reply


class ChannelError(Exception):
    """A webhook we will not believe or cannot read: answered 4xx, logged, nothing changes."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Dialog(Protocol):
    async def handle(self, inbound: Inbound, limits: Limits) -> Reply: ...

    def after(self, reply: Reply) -> None:
        """Start the reply's follow-ups (e.g. the payment push) once the answer is on its way."""

    async def send(self, message: Message) -> bool:
        """A chat reply: queued in the outbox (once per dedupe key, so a provider's retry sends
        nothing twice) before the webhook is answered, then sent at once in the background;
        the worker retries it if that send fails. False when it could not even be queued: the
        channel answers 503 so the provider tries the webhook again."""


DIALOG = web.AppKey("dialog", Dialog)

# The secret every unsigned provider callback URL must carry as `?token=…` (empty: not required).
CALLBACK_TOKEN = web.AppKey("callback_token", str)


def chat_reply(channel: str, address: str, reply: Reply, message_id: str) -> Message:
    """A dialog reply as a chat message, keyed by the inbound message it answers: a provider
    that retries its webhook gets the same reply, queued once."""
    return Message(
        kind="reply",
        channel=channel,
        address=address,
        language=reply.language,
        body=reply.as_text(),
        dedupe_key=f"reply:{channel}:{message_id}",
        options=tuple((option.key, option.label) for option in reply.options),
    )


async def converse(dialog: Dialog, inbound: Inbound, limits: Limits) -> bool:
    """One chat message through the dialog: the reply queued (keyed by the inbound message),
    then the follow-ups started. False when the reply could not be queued: the channel then
    answers 503, so the provider retries and gets the same reply."""
    reply = await dialog.handle(inbound, limits)
    if not await dialog.send(
        chat_reply(inbound.channel, inbound.address, reply, inbound.dedupe_key or "")
    ):
        return False
    dialog.after(reply)
    return True
