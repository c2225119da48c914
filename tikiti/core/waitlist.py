"""Waiting lists: a fair second chance at a sold-out tier, first come, first served.

When places come back (an expired hold, a refund, a cancellation), the worker holds one for
the next person in line through the same atomic inventory statement every buyer goes through,
and tells them; an offer not paid in time lapses like any hold, and the place goes to the next.
A place can never be offered twice at once: an offer *is* a hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import catalog, holds, notices, outbox
from tikiti.core.errors import CoreError, InvalidInput, NotFound, SoldOut
from tikiti.core.models import Event, Order, OrderLine, OrderStatus, Tier, WaitlistEntry

OPEN_ORDER = (OrderStatus.HELD, OrderStatus.AWAITING_PAYMENT)


async def join(
    session: AsyncSession,
    *,
    event_id: int,
    tier_id: int,
    phone: str,
    channel: str,
    language: str,
) -> int:
    """Join the line (once per phone and tier: joining again keeps your place); returns the
    position in line."""
    tier = await session.scalar(select(Tier).where(Tier.id == tier_id, Tier.event_id == event_id))
    if tier is None:
        raise NotFound("no such tier for this event", tier_id=tier_id)
    if tier.capacity - tier.sold - tier.held - tier.allocated > 0:
        raise InvalidInput("places are still on sale: buy one now", field="tier")
    await session.execute(
        insert(WaitlistEntry)
        .values(event_id=event_id, tier_id=tier_id, phone=phone, channel=channel, language=language)
        .on_conflict_do_nothing(
            index_elements=["tier_id", "phone"],
            index_where=text("status IN ('waiting', 'offered')"),
        )
    )
    return await position(session, tier_id, phone)


async def position(session: AsyncSession, tier_id: int, phone: str) -> int:
    mine = await session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.tier_id == tier_id,
            WaitlistEntry.phone == phone,
            WaitlistEntry.status.in_(("waiting", "offered")),
        )
    )
    if mine is None:
        return 0
    ahead = await session.scalar(
        select(func.count()).where(
            WaitlistEntry.tier_id == tier_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.id < mine,
        )
    )
    return int(ahead or 0) + 1


# Offers whose hold ended are closed: bought if paid, lapsed (and the next one served) if not.
_CLOSE = text(
    """
    UPDATE waitlist_entries w
       SET status = CASE WHEN o.status IN ('paid', 'fulfilled') THEN 'bought' ELSE 'lapsed' END
      FROM orders o
     WHERE w.order_id = o.id AND w.status = 'offered'
       AND o.status NOT IN ('held', 'awaiting_payment')
    """
)

_TIERS_WITH_PLACES = text(
    """
    SELECT DISTINCT w.tier_id
      FROM waitlist_entries w JOIN tiers t ON t.id = w.tier_id JOIN events e ON e.id = t.event_id
     WHERE w.status = 'waiting' AND e.status = 'on_sale'
       AND t.capacity - t.sold - t.held - t.allocated > 0
    """
)

_NEXT = text(
    """
    SELECT id FROM waitlist_entries
     WHERE tier_id = :tier_id AND status = 'waiting'
     ORDER BY id LIMIT 1 FOR UPDATE
    """
)

# One worker serves a tier's line at a time, or a later person could be served while an
# earlier one's hold is being refused: first come, first served needs one server per line.
# The lock ends with the transaction; a worker that finds it taken serves other tiers.
_SERVE_LINE = text("SELECT pg_try_advisory_xact_lock(:space, :tier_id)")
LOCK_SPACE = 0x7A17


async def offer_due(session: AsyncSession, *, now: datetime, limit: int = 100) -> int:
    """Close finished offers, then hold a returned place for each next person in line."""
    await session.execute(_CLOSE)
    offered = 0
    for tier_id in list((await session.scalars(_TIERS_WITH_PLACES)).all()):
        lock = {"space": LOCK_SPACE, "tier_id": tier_id % 2**31}
        if not await session.scalar(_SERVE_LINE, lock):
            continue
        while offered < limit:
            entry_id = await session.scalar(_NEXT, {"tier_id": tier_id})
            if entry_id is None or not await _offer(session, entry_id, now):
                break
            offered += 1
    return offered


async def _offer(session: AsyncSession, entry_id: int, now: datetime) -> bool:
    """Hold one place for this entry; False when the tier has none left after all."""
    entry = await session.get_one(WaitlistEntry, entry_id)
    facts = await catalog.event_facts(session, entry.event_id)
    if facts is None:
        return False
    try:
        async with session.begin_nested():
            placed = await holds.place_hold(
                session,
                event_id=entry.event_id,
                items=[holds.Item(entry.tier_id, 1)],
                buyer_phone=entry.phone,
                channel=entry.channel,
                language=entry.language,
                currency=facts.currency,
                idempotency_key=f"waitlist:{entry.id}",
                now=now,
            )
    except SoldOut:
        return False
    except CoreError:
        entry.status = "left"  # the tier or event can no longer be sold: the line ends here
        return True
    entry.status, entry.order_id = "offered", placed.order_id
    entry.offered_at, entry.offer_expires_at = now, placed.expires_at
    await _tell(session, entry, facts.name, placed)
    return True


async def _tell(
    session: AsyncSession, entry: WaitlistEntry, event_name: str, placed: holds.Placed
) -> None:
    event = await session.get_one(Event, entry.event_id)
    tier = await session.scalar(select(Tier.name).where(Tier.id == entry.tier_id))
    until = placed.expires_at.astimezone(ZoneInfo(event.timezone)).strftime("%H:%M")
    await outbox.enqueue(
        session,
        outbox.Message(
            kind="waitlist_offer",
            channel=entry.channel,
            address=entry.phone,
            language=entry.language,
            body=notices.waitlist_offer_sms(
                entry.language,
                event_name=event_name,
                tier=str(tier),
                until=until,
                reference=placed.reference,
                total=str(placed.total),
            ),
            dedupe_key=f"waitlist_offer:{entry.id}",
            organizer_id=event.organizer_id,
            order_id=placed.order_id,
        ),
    )


@dataclass(frozen=True, slots=True)
class Offer:
    """An open offer, as the buyer's journey needs it to pay."""

    order_id: int
    reference: str
    event_id: int
    tier_id: int
    tier_name: str
    quantity: int
    price_minor: int
    currency: str
    expires_at: datetime


async def open_offer(
    session: AsyncSession, phone: str, now: datetime, reference: str | None = None
) -> Offer | None:
    """The phone's offer still held for it (the one named by `reference`, if given)."""
    query = (
        select(Order, OrderLine, Tier.name)
        .join(WaitlistEntry, WaitlistEntry.order_id == Order.id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Tier, Tier.id == OrderLine.tier_id)
        .where(
            WaitlistEntry.phone == phone,
            WaitlistEntry.status == "offered",
            Order.status.in_(OPEN_ORDER),
            Order.expires_at > now,
        )
        .order_by(Order.expires_at)
        .limit(1)
    )
    if reference is not None:
        query = query.where(Order.reference == reference.upper())
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    order, line, tier_name = row
    return Offer(
        order.id,
        order.reference,
        order.event_id,
        line.tier_id,
        tier_name,
        line.quantity,
        line.unit_price_minor,
        order.currency,
        order.expires_at,
    )
