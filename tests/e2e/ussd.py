"""A feature phone dialling the USSD code, exactly as Africa's Talking relays it."""

from __future__ import annotations

import secrets

import aiohttp

ENDPOINT = "/channels/ussd/africastalking"


class Handset:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, phone: str) -> None:
        self.http = http
        self.url = base_url + ENDPOINT
        self.phone = phone
        self.session_id = ""
        self.inputs: list[str] = []
        self.screens: list[str] = []

    async def _hop(self) -> str:
        form = {
            "sessionId": self.session_id,
            "serviceCode": "*384*1234#",
            "phoneNumber": self.phone,
            "networkCode": "64804",
            "text": "*".join(self.inputs),
        }
        async with self.http.post(self.url, data=form) as response:
            assert response.status == 200, await response.text()
            screen = await response.text()
        assert screen.startswith(("CON ", "END ")), screen
        assert len(screen) <= 182, (len(screen), screen)
        self.screens.append(screen)
        return screen

    async def dial(self) -> str:
        self.session_id = "ATUid_" + secrets.token_hex(8)
        self.inputs = []
        return await self._hop()

    async def send(self, text: str) -> str:
        self.inputs.append(text)
        return await self._hop()

    async def resend(self) -> str:
        """The gateway timed out and sends the very same hop again."""
        return await self._hop()

    async def choose(self, label: str, *, pages: int = 20) -> str:
        """Pick the option whose label contains `label`, paging on with 98 as a person would."""
        for _ in range(pages):
            screen = self.screens[-1]
            for line in screen.splitlines():
                key, dot, rest = line.partition(". ")
                if dot and key.isdigit() and label.lower() in rest.lower():
                    return await self.send(key)
            if "98 " not in screen:
                break
            await self.send("98")
        raise AssertionError(f"no option {label!r} on screen:\n{self.screens[-1]}")
