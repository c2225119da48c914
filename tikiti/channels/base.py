"""What every channel shares: its one error, and the dialog port the composition root plugs in."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

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


DIALOG = web.AppKey("dialog", Dialog)

# The secret every unsigned provider callback URL must carry as `?token=…` (empty: not required).
CALLBACK_TOKEN = web.AppKey("callback_token", str)
