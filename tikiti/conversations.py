"""The dialog port for channels: run a step, then start its follow-ups in the background."""

from __future__ import annotations

import asyncio
import logging

from tikiti.core.ports import PaymentGateway
from tikiti.dialogs.engine import Engine
from tikiti.dialogs.types import Inbound, Limits, Reply

logger = logging.getLogger(__name__)


class Conversations:
    def __init__(self, engine: Engine, payments: PaymentGateway) -> None:
        self.engine = engine
        self.payments = payments
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, inbound: Inbound, limits: Limits) -> Reply:
        return await self.engine.handle(inbound, limits)

    def after(self, reply: Reply) -> None:
        # The PIN prompt cannot open while the USSD session is alive, so the push is started
        # here, after the handler has produced its END screen, never inside the hop.
        for followup in reply.followups:
            if followup.kind == "push_payment":
                task = asyncio.create_task(self._push(followup.payment_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _push(self, payment_id: int) -> None:
        await asyncio.sleep(0.5)  # let the END screen reach the handset first
        try:
            outcome = await self.payments.push(payment_id)
        except Exception:
            logger.exception(
                "payment %s push crashed; reconciliation will settle its fate", payment_id
            )
            return
        if not outcome.ok:
            logger.info("payment %s did not start: %s", payment_id, outcome.error)

    async def close(self) -> None:
        """On shutdown, let pushes already under way finish (briefly) rather than vanish."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
