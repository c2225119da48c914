"""A local Africa's Talking SMS API: the official SDK pointed at it sends real HTTP."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.base import FakeServer


@dataclass
class FakeAfricasTalking(FakeServer):
    identifier: str = "africastalking"
    username: str = "sandbox"
    api_key: str = field(default_factory=lambda: "atsk_" + secrets.token_hex(16))
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # number -> (code, status)

    def __post_init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, str]] = []
        self.bodies: Counter[str] = Counter()
        self.app.router.add_post("/version1/messaging", self._messaging)

    def credentials(self) -> dict[str, str]:
        return {
            "username": self.username,
            "api_key": self.api_key,
            "base_url": f"{self.base_url}/version1",
        }

    async def _messaging(self, request: web.Request) -> web.Response:
        if request.headers.get("apiKey") != self.api_key:
            return web.Response(status=401, text="The supplied authentication is invalid")
        form = await request.post()
        if form.get("username") != self.username:
            return web.Response(status=401, text="The supplied authentication is invalid")
        to, message = str(form.get("to", "")), str(form.get("message", ""))
        code, status = self.refuse.get(to, (101, "Success"))
        message_id = "ATXid_" + secrets.token_hex(8) if code == 101 else "None"
        recipient = {"statusCode": code, "number": to, "status": status, "messageId": message_id}
        if code == 101:
            self.sent.append({"to": to, "message": message, "id": recipient["messageId"]})
            self.bodies[message] += 1
        body = {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [recipient]}}
        # The SDK parses JSON only when the content type is exactly application/json.
        return web.Response(body=json.dumps(body).encode(), content_type="application/json")
