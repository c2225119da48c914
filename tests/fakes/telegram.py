"""A local Telegram Bot API (`POST /bot<token>/<method>`) for the real PTB Bot to talk to, and
Telegram's side of the webhook: updates as a Telegram user's taps and messages produce them."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer
from tikiti.config import TelegramSettings

# Fields PTB sends JSON-encoded inside a form or multipart body.
JSON_FIELDS = frozenset(
    {"reply_markup", "allowed_updates", "entities", "caption_entities", "commands"}
)
BOT = {"id": 7000001, "is_bot": True, "first_name": "Tikiti", "username": "TikitiTestBot"}


def failure(code: int, description: str, **parameters: object) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


@dataclass
class FakeTelegram(FakeServer):
    identifier: str = "telegram"
    token: str = field(
        default_factory=lambda: f"{secrets.randbelow(10**9)}:{secrets.token_hex(16)}"
    )
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    blocked: set[int] = field(default_factory=set)  # chats whose user blocked the bot: 403
    throttle_next: int = 0  # answer the next N sends with 429 and retry_after
    unfetchable_photos: bool = False  # sendPhoto by URL fails as when Telegram cannot fetch it

    def __post_init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._message_ids = itertools.count(1000)
        self.app.router.add_post("/bot{token}/{method}", self._method)

    def settings(self, **changes: str) -> TelegramSettings:
        """Settings that make the real bot talk to this fake."""
        fields = {"token": self.token, "secret": self.secret, "base_url": f"{self.base_url}/bot"}
        return TelegramSettings(**{**fields, **changes})

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages and photos sent, oldest first, to one chat or all."""
        return [
            params
            for method, params in self.calls
            if method in ("sendMessage", "sendPhoto")
            and (chat_id is None or int(params["chat_id"]) == chat_id)
        ]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        if not request.can_read_body:
            return {}  # getMe comes without a body
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):  # an uploaded file's part
                params[key] = value.file.read()
            elif not isinstance(value, str):
                params[key] = bytes(value)
            elif key in JSON_FIELDS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        return params

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return failure(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        handlers: dict[str, Callable[[dict[str, Any]], object]] = {
            "getMe": lambda _: BOT,
            "sendMessage": self._message,
            "sendPhoto": self._photo,
            "answerCallbackQuery": lambda _: True,
            "setWebhook": lambda _: True,
            "setMyCommands": lambda _: True,
        }
        handler = handlers.get(method)
        if handler is None:
            return failure(404, "Not Found: method not found")
        if method in ("sendMessage", "sendPhoto"):
            refused = self._refusal(int(params.get("chat_id", 0)))
            if refused is not None:
                return refused
            if method == "sendPhoto" and self.unfetchable_photos:
                return failure(400, "Bad Request: failed to get HTTP URL content")
        self.calls.append((method, params))
        return web.json_response({"ok": True, "result": handler(params)})

    def _refusal(self, chat_id: int) -> web.Response | None:
        if chat_id in self.blocked:
            return failure(403, "Forbidden: bot was blocked by the user")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return failure(429, "Too Many Requests: retry after 3", retry_after=3)
        return None

    def _sent(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Buyer"},
            "from": BOT,
        }

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        message = {**self._sent(params), "text": params["text"]}
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    def _photo(self, params: dict[str, Any]) -> dict[str, Any]:
        size = {"file_id": secrets.token_hex(8), "file_unique_id": secrets.token_hex(4)}
        photo = [{**size, "width": 320, "height": 320}]
        return {**self._sent(params), "photo": photo, "caption": params.get("caption", "")}


class TelegramUser:
    """A Telegram user in a private chat with the bot: the updates their actions produce."""

    _update_ids = itertools.count(secrets.randbelow(10**8))

    def __init__(self, user_id: int, first_name: str = "Tendai") -> None:
        self.user_id = user_id
        self.first_name = first_name

    @property
    def chat_id(self) -> int:
        return self.user_id  # a private chat's id is its user's

    def _base(self) -> dict[str, Any]:
        return {
            "message_id": secrets.randbelow(10**6),
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private", "first_name": self.first_name},
            "from": {"id": self.user_id, "is_bot": False, "first_name": self.first_name},
        }

    def text(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {**self._base(), "text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"update_id": next(self._update_ids), "message": message}

    def contact(self, phone: str, *, user_id: int | None = None) -> dict[str, Any]:
        """Sharing a contact: their own (the button) or someone else's card (user_id)."""
        owner = self.user_id if user_id is None else user_id
        card = {"phone_number": phone.lstrip("+"), "first_name": self.first_name, "user_id": owner}
        return {"update_id": next(self._update_ids), "message": {**self._base(), "contact": card}}

    def tap(self, callback_data: str, message_id: int = 1) -> dict[str, Any]:
        message = {**self._base(), "message_id": message_id, "text": "…"}
        query = {
            "id": str(secrets.randbelow(10**12)),
            "from": {"id": self.user_id, "is_bot": False, "first_name": self.first_name},
            "chat_instance": "-1",
            "data": callback_data,
            "message": message,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}
