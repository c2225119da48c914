"""Seeding the gate bench: an event with doors about to open, many tickets, a scanner token."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench import common
from tikiti.config import Settings
from tikiti.core import gate, holds, orders, settlement
from tikiti.core.codes import new_code
from tikiti.core.db import Database, make_engine
from tikiti.core.models import Ticket, TicketStatus
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox

logger = logging.getLogger("bench.checkin")

PRICE = Money(1000, "USD")
BATCH = 5_000
PHONE = "+263771234567"


async def one_paid_order(db: Database, event_id: int, tier_id: int) -> int:
    """Tickets need an order; one real one is enough to hang the bench's tickets on."""
    async with db.transaction() as session:
        placed = await holds.place_hold(
            session, event_id=event_id, items=[holds.Item(tier_id, 1)],
            buyer_phone=PHONE, channel="sms", language="en", currency="USD",
        )  # fmt: skip
        payment = await orders.request_payment(
            session, order_id=placed.order_id, provider="sandbox", method="sandbox",
            payer_phone=PHONE, idempotency_key="bench",
        )  # fmt: skip
        await orders.attach_reference(session, payment.id, "SBX-bench")
    async with db.transaction() as session:
        await settlement.settle(
            session, provider="sandbox", reference="SBX-bench", amount_minor=PRICE.minor,
            currency="USD", payload={},
        )  # fmt: skip
    return placed.order_id


async def seed_event(db: Database, keybox: KeyBox) -> tuple[int, int, int]:
    """(organizer, event, tier) of an on-sale event whose doors open in half an hour."""
    doors = datetime.now(UTC) + timedelta(minutes=30)
    return await common.seed_event(db, keybox, code="GATEBENCH", capacity=10, doors_open_at=doors)


async def seed(settings: Settings, tickets: int) -> tuple[str, list[str]]:
    """The event, `tickets` valid tickets and a gate token for it."""
    db = Database(make_engine(settings.database_url, pool_size=1, max_overflow=0))
    try:
        organizer_id, event_id, tier_id = await seed_event(db, KeyBox(settings.secret_key))
        order_id = await one_paid_order(db, event_id, tier_id)
        codes = [new_code() for _ in range(tickets)]
        async with db.transaction() as session:
            for start in range(0, tickets, BATCH):
                batch = codes[start : start + BATCH]
                await session.execute(
                    insert(Ticket), [_ticket(order_id, event_id, tier_id, c) for c in batch]
                )
            token = await gate.issue_token(session, organizer_id, event_id, "A", actor="bench")
    finally:
        await db.dispose()
    logger.info("seeded %d tickets", tickets)
    return token, codes


def _ticket(order_id: int, event_id: int, tier_id: int, code: str) -> dict[str, object]:
    # Straight into the table (the one real order carries them): the bench measures scanning,
    # not the sale of tens of thousands of tickets.
    return {
        "order_id": order_id, "event_id": event_id, "tier_id": tier_id, "code": code,
        "status": TicketStatus.VALID, "holder_phone": PHONE,
    }  # fmt: skip
