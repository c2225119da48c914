"""Handing outbox messages to senders: leased, retried with back-off, never lost, rarely twice.

A worker leases a batch (status stays pending, `lease_until` in the future), sends outside any
transaction, then records the result. A worker that dies mid-batch loses nothing: the lease
runs out and another worker sends what was not recorded as sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, String, bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.db import Database
from tikiti.core.links import Links
from tikiti.core.models import OutboxMessage, OutboxStatus
from tikiti.core.ports import DeliveryError, MessageSender, Outgoing

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
BASE_DELAY = 5.0  # seconds; doubles each attempt, with jitter, up to MAX_DELAY
MAX_DELAY = 30 * 60.0

_LEASE = text(
    """
    UPDATE outbox SET lease_until = :until, attempts = attempts + 1
     WHERE id IN (SELECT id FROM outbox
                   WHERE status = 'pending' AND next_attempt_at <= :now
                     AND (lease_until IS NULL OR lease_until < :now)
                     AND channel = ANY(:channels)
                   ORDER BY next_attempt_at, id
                   LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, channel, address, body, media_url, attempts, ticket_id,
              (SELECT version FROM tickets WHERE tickets.id = outbox.ticket_id), options
    """
).bindparams(bindparam("channels", type_=ARRAY(String)))

# One message, leased as the batch lease would: a conversation's reply is sent at once.
_LEASE_ONE = text(
    """
    UPDATE outbox SET lease_until = :until, attempts = attempts + 1
     WHERE id = :id AND status = 'pending' AND (lease_until IS NULL OR lease_until < :now)
    RETURNING id, channel, address, body, media_url, attempts, ticket_id,
              (SELECT version FROM tickets WHERE tickets.id = outbox.ticket_id), options
    """
)

# A delivery report is final: once delivered, a late or repeated report changes nothing.
_REPORT = text(
    """
    UPDATE outbox SET status = CAST(:status AS outbox_status),
                      last_error = coalesce(:error, last_error), lease_until = NULL
     WHERE provider_message_id = :message_id AND status <> 'delivered'
    RETURNING id
    """
)


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential back-off with full jitter, so a provider outage is not hammered in step."""
    ceiling = min(MAX_DELAY, BASE_DELAY * 2 ** max(attempts - 1, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)


async def lease(
    session: AsyncSession,
    channels: Sequence[str],
    *,
    limit: int = 50,
    now: datetime | None = None,
) -> list[Outgoing]:
    """Only channels this worker can send: the rest wait for a worker that can."""
    now = now or datetime.now(UTC)
    rows = await session.execute(
        _LEASE,
        {"now": now, "until": now + LEASE, "limit": limit, "channels": list(channels)},
    )
    return [_outgoing(row) for row in rows]


def _outgoing(row: Row[Any]) -> Outgoing:
    return Outgoing(
        id=row.id,
        channel=row.channel,
        address=row.address,
        body=row.body,
        media_url=row.media_url,
        attempts=row.attempts,
        ticket_id=row.ticket_id,
        ticket_version=row.version,
        options=tuple((str(key), str(label)) for key, label in row.options or ()),
    )


async def sent(session: AsyncSession, message_id: int, provider_message_id: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENT,
            provider_message_id=provider_message_id,
            sent_at=datetime.now(UTC),
            lease_until=None,
            last_error=None,
        )
    )


async def failed(
    session: AsyncSession,
    message: Outgoing,
    error: str,
    *,
    permanent: bool,
    now: datetime | None = None,
) -> bool:
    """Schedule a retry, or park the message as failed; True when it was parked."""
    now = now or datetime.now(UTC)
    give_up = permanent or message.attempts >= MAX_ATTEMPTS
    values: dict[str, object] = {"lease_until": None, "last_error": error[:500]}
    if give_up:
        values["status"] = OutboxStatus.FAILED
    else:
        values["next_attempt_at"] = now + timedelta(seconds=retry_delay(message.attempts))
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(**values)
    )
    return give_up


async def report(
    session: AsyncSession, provider_message_id: str, *, delivered: bool, error: str | None = None
) -> bool:
    """A provider's delivery report; False when no message has that id (or it changes nothing)."""
    status = OutboxStatus.DELIVERED if delivered else OutboxStatus.FAILED
    found = await session.execute(
        _REPORT, {"status": status.value, "error": error, "message_id": provider_message_id}
    )
    return found.first() is not None


_REROUTE = text(
    """
    UPDATE outbox SET channel = :channel, status = 'pending', provider_message_id = NULL,
                      next_attempt_at = :now, lease_until = NULL, last_error = :error
     WHERE provider_message_id = :message_id AND status = 'sent' AND channel <> :channel
    RETURNING id
    """
)


async def reroute(
    session: AsyncSession, provider_message_id: str, *, channel: str, error: str
) -> bool:
    """A message the provider accepted but later could not deliver on its channel (WhatsApp
    outside the 24-hour window reports that only afterwards) goes out again on another one.
    Once: the provider's id is cleared, so a repeated report finds nothing."""
    found = await session.execute(
        _REROUTE,
        {
            "channel": channel,
            "now": datetime.now(UTC),
            "error": error[:500],
            "message_id": provider_message_id,
        },
    )
    return found.first() is not None


async def deliver_batch(
    db: Database,
    senders: Mapping[str, MessageSender],
    links: Links,
    *,
    limit: int = 50,
    concurrency: int = 10,
    now: datetime | None = None,
) -> int:
    """Lease a batch, send it (a few at a time), record each result; returns how many tried."""
    async with db.transaction() as session:
        batch = await lease(session, list(senders), limit=limit, now=now)
    batch = [links.render(message) for message in batch]
    gate = asyncio.Semaphore(concurrency)

    async def one(message: Outgoing) -> None:
        async with gate:
            await _deliver(db, senders, message, now)

    await asyncio.gather(*(one(m) for m in batch))
    return len(batch)


async def deliver_one(
    db: Database, senders: Mapping[str, MessageSender], links: Links, message_id: int
) -> bool:
    """Send one queued message now (a reply someone is waiting for); False if another worker
    holds it or it was already sent. A failure is recorded as the batch would: retried later."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        row = (
            await session.execute(_LEASE_ONE, {"id": message_id, "now": now, "until": now + LEASE})
        ).one_or_none()
    if row is None:
        return False
    await _deliver(db, senders, links.render(_outgoing(row)), None)
    return True


async def _deliver(
    db: Database, senders: Mapping[str, MessageSender], message: Outgoing, now: datetime | None
) -> None:
    sender = senders.get(message.channel)
    try:
        if sender is None:
            raise DeliveryError(f"no sender for channel {message.channel}")
        provider_id = await sender.send(message)
    except DeliveryError as error:
        async with db.transaction() as session:
            parked = await failed(session, message, str(error), permanent=error.permanent, now=now)
        log = logger.warning if parked else logger.info
        log("message %s not sent (attempt %s): %s", message.id, message.attempts, error)
        return
    async with db.transaction() as session:
        await sent(session, message.id, provider_id)
