"""What every fake provider server offers the tests: start, credentials, and a payer who acts."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeServer:
    """A local HTTP server speaking one provider's protocol, with knobs for failures."""

    identifier: str

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._faults])
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        self.fail_next = 0  # answer the next N API calls with 500
        self.stall_next = 0  # let the next N API calls hang past the client's timeout
        self.stall_seconds = 15.0

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every fake fails or stalls on demand, the same way, for any of its API routes."""
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500, text="internal error")
        if self.stall_next > 0:
            self.stall_next -= 1
            await asyncio.sleep(self.stall_seconds)
        return await handler(request)

    async def start(self) -> str:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


class FakeProvider(FakeServer, ABC):
    """A payment provider's fake, with a payer who approves or declines."""

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """Credentials that make the real adapter talk to this fake."""

    @abstractmethod
    async def complete(
        self, provider_reference: str, *, paid: bool, amount_minor: int | None = None
    ) -> int:
        """The payer approves (or declines) the prompt: record it and POST the callback to the
        callback URL given at start; returns our endpoint's HTTP status."""

    @abstractmethod
    def forged_callback(self, provider_reference: str) -> tuple[dict[str, str], bytes, str]:
        """A callback claiming payment that the provider never sent: (headers, body, url)."""
