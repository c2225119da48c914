"""WhatsApp's 24-hour customer-service window: free-form messages may go to a buyer only
within 24 hours of their last message to us; after that only an approved template may."""

from __future__ import annotations

import time

from tikiti.core.store import Store

WINDOW = 24 * 3600.0
# A reply written in the window's last seconds may reach WhatsApp after it has closed.
MARGIN = 120.0


class CustomerWindow:
    """When each buyer last wrote to us, kept for as long as it matters (24 h)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def _key(phone: str) -> str:
        return f"wa_window:{phone}"

    async def opened(self, phone: str, at: float | None = None) -> None:
        """The buyer wrote just now: the window runs for 24 hours from here."""
        await self.store.set(self._key(phone), repr(at or time.time()).encode(), ttl=WINDOW)

    async def is_open(self, phone: str, now: float | None = None) -> bool:
        raw = await self.store.get(self._key(phone))
        if raw is None:
            return False
        try:
            last = float(raw)
        except ValueError:
            return False
        return (now or time.time()) - last < WINDOW - MARGIN

    async def closed(self, phone: str) -> None:
        """WhatsApp said the window is shut (63016): believe it over our own record."""
        await self.store.delete(self._key(phone))
