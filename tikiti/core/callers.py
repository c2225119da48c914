"""Who is on the line when a conversation starts: their language, the phone's work roles (gate
staff, agent) and any waiting-list offer held for it, read in one round trip because every new
session asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tikiti.core.agents import AgentPost
from tikiti.core.db import Query, Reader, fetch
from tikiti.core.gate_staff import Post


@dataclass(frozen=True, slots=True)
class Caller:
    """A phone's remembered language (None: never chosen), its gate post and agent record."""

    language: str | None
    post: Post | None
    agent: AgentPost | None = None
    has_offer: bool = False  # a waiting-list place is held for this phone right now


_CALLER = Query(
    """
    SELECT b.language, s.id, s.event_id, s.name, s.gate, s.timezone, s.trusted,
           a.id AS agent_id, a.name AS agent_name, a.currency, a.must_change_pin, a.timezone,
           EXISTS (SELECT 1 FROM waitlist_entries w JOIN orders o ON o.id = w.order_id
                    WHERE w.phone = :phone AND w.status = 'offered' AND o.expires_at > :now
                      AND o.status IN ('held', 'awaiting_payment')) AS has_offer
      FROM (SELECT 1) AS one
      LEFT JOIN buyers b ON b.phone = :phone
      LEFT JOIN LATERAL (
            SELECT g.id, g.event_id, e.name, g.gate, e.timezone,
                   coalesce(g.trusted_until > :now, false) AS trusted
              FROM gate_staff g JOIN events e ON e.id = g.event_id
             WHERE g.phone = :phone AND g.revoked_at IS NULL
               AND e.ends_at > :now AND e.status IN ('on_sale', 'sales_closed')
             ORDER BY e.starts_at LIMIT 1) AS s ON true
      LEFT JOIN LATERAL (
            SELECT g.id, g.name, g.currency, g.must_change_pin, o.timezone
              FROM agents g JOIN organizers o ON o.id = g.organizer_id
             WHERE g.phone = :phone AND g.active ORDER BY g.id LIMIT 1) AS a ON true
    """
)


async def caller(reader: Reader, phone: str, now: datetime) -> Caller:
    """Read on the plain driver when the reader allows: every new session asks this."""
    (row,) = await fetch(reader, _CALLER, phone=phone, now=now)
    language, staff_id, event_id, event_name, gate_name, timezone, trusted = row[:7]
    agent_id, agent_name, currency, must_change_pin, agent_zone, has_offer = row[7:]
    post = None
    if staff_id is not None:
        post = Post(staff_id, event_id, event_name, gate_name, timezone, bool(trusted))
    agent = None
    if agent_id is not None:
        agent = AgentPost(agent_id, agent_name, currency, must_change_pin, agent_zone)
    return Caller(language, post, agent, bool(has_offer))
