"""The dialog port for channels: run a step, send chat replies, start follow-ups."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from tikiti.core import delivery, outbox
from tikiti.core.db import Database
from tikiti.core.links import Links
from tikiti.core.ports import MessageSender, PaymentGateway
from tikiti.dialogs.engine import Engine
from tikiti.dialogs.types import Inbound, Limits, Reply

logger = logging.getLogger(__name__)


class Conversations:
    def __init__(
        self,
        engine: Engine,
        payments: PaymentGateway,
        db: Database,
        senders: Mapping[str, MessageSender],
        links: Links,
    ) -> None:
        self.engine = engine
        self.payments = payments
        self.db = db
        self.senders = senders
        self.links = links
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, inbound: Inbound, limits: Limits) -> Reply:
        return await self.engine.handle(inbound, limits)

    async def send(self, message: outbox.Message) -> bool:
        try:
            async with self.db.transaction() as session:
                message_id = await outbox.enqueue(session, message)
        except (SQLAlchemyError, OSError) as error:
            logger.warning("reply to %s not queued: %s", message.channel, error)
            return False
        if message_id is not None and message.channel in self.senders:
            self._spawn(self._deliver(message_id))
        # else: queued by an earlier try of this webhook, or left to a worker that can send it
        return True

    async def _deliver(self, message_id: int) -> None:
        try:
            await delivery.deliver_one(self.db, self.senders, self.links, message_id)
        except Exception:
            logger.exception("reply %s not sent now; the worker will retry it", message_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def after(self, reply: Reply) -> None:
        # The PIN prompt cannot open while the USSD session is alive, so the push is started
        # here, after the handler has produced its END screen, never inside the hop.
        for followup in reply.followups:
            if followup.kind == "push_payment":
                self._spawn(self._push(followup.payment_id))

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
        """On shutdown, let pushes and sends under way finish (briefly) rather than vanish."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
