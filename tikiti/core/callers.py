"""Who is on the line when a conversation starts: their language, and any work role the phone
has (gate staff now), read in one round trip because every new session asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core.gate_staff import Post


@dataclass(frozen=True, slots=True)
class Caller:
    """A phone's remembered language (None: never chosen) and its gate post, if any."""

    language: str | None
    post: Post | None


_CALLER = text(
    """
    SELECT b.language, s.id, s.event_id, s.name, s.gate, s.timezone, s.trusted
      FROM (SELECT 1) AS one
      LEFT JOIN buyers b ON b.phone = :phone
      LEFT JOIN LATERAL (
            SELECT g.id, g.event_id, e.name, g.gate, e.timezone,
                   coalesce(g.trusted_until > :now, false) AS trusted
              FROM gate_staff g JOIN events e ON e.id = g.event_id
             WHERE g.phone = :phone AND g.revoked_at IS NULL
               AND e.ends_at > :now AND e.status IN ('on_sale', 'sales_closed')
             ORDER BY e.starts_at LIMIT 1) AS s ON true
    """
)


async def caller(reader: AsyncSession | AsyncConnection, phone: str, now: datetime) -> Caller:
    row = (await reader.execute(_CALLER, {"phone": phone, "now": now})).one()
    language, staff_id, event_id, event_name, gate_name, timezone, trusted = row
    if staff_id is None:
        return Caller(language, None)
    post = Post(staff_id, event_id, event_name, gate_name, timezone, bool(trusted))
    return Caller(language, post)
