"""Event reminders: the day before, one message per ticket holder per event, in their language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import notices, outbox

AHEAD = timedelta(hours=24)
TOO_LATE = timedelta(hours=2)  # nearer than this a reminder is noise: the buyer just bought

# One row per (event, holder); the outbox's dedupe key makes a second run a no-op, and the
# NOT EXISTS keeps the batch from filling up with holders already reminded.
_DUE = text(
    """
    SELECT DISTINCT ON (t.event_id, t.holder_phone)
           t.event_id, t.holder_phone, e.organizer_id, e.name, e.starts_at, e.timezone,
           e.doors_open_at, v.name AS venue, e.stream_url IS NOT NULL AS streamed, o.channel,
           coalesce(b.language, o.language) AS language,
           count(*) OVER (PARTITION BY t.event_id, t.holder_phone) AS tickets
      FROM tickets t
      JOIN events e ON e.id = t.event_id
      JOIN orders o ON o.id = t.order_id
      LEFT JOIN venues v ON v.id = e.venue_id
      LEFT JOIN buyers b ON b.phone = t.holder_phone
     WHERE t.status = 'valid' AND e.status IN ('on_sale', 'sales_closed')
       AND e.starts_at BETWEEN :soonest AND :latest
       AND b.opted_out_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM outbox m
                        WHERE m.dedupe_key = 'reminder:' || t.event_id || ':' || t.holder_phone)
     ORDER BY t.event_id, t.holder_phone
     LIMIT :limit
    """
)


async def queue_due(session: AsyncSession, *, now: datetime | None = None, limit: int = 500) -> int:
    """Queue reminders for events starting within a day; returns how many were queued."""
    now = now or datetime.now(UTC)
    rows = await session.execute(
        _DUE, {"soonest": now + TOO_LATE, "latest": now + AHEAD, "limit": limit}
    )
    queued = 0
    for row in rows:
        body = (
            notices.stream_reminder_sms(
                row.language,
                event_name=row.name,
                starts_at=row.starts_at,
                timezone=row.timezone,
            )
            if row.streamed
            else notices.reminder_sms(
                row.language,
                event_name=row.name,
                starts_at=row.starts_at,
                doors_open_at=row.doors_open_at,
                timezone=row.timezone,
                venue=row.venue or "",
                tickets=row.tickets,
            )
        )
        message = outbox.Message(
            kind="reminder",
            channel=row.channel,
            address=row.holder_phone,
            language=row.language,
            body=body,
            dedupe_key=f"reminder:{row.event_id}:{row.holder_phone}",
            organizer_id=row.organizer_id,
        )
        if await outbox.enqueue(session, message) is not None:
            queued += 1
    return queued
