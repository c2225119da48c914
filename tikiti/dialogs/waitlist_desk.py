"""The waiting list in the menu: join it from a sold-out tier (or `WAIT <CODE> [<TIER>]`),
and pay for a place offered from it (the home menu, or `PAY <REF>`)."""

from __future__ import annotations

from tikiti.core import catalog, waitlist
from tikiti.core.errors import CoreError
from tikiti.dialogs.context import Ctx


async def join(ctx: Ctx, tier_id: int | None = None) -> str | None:
    """None when in line (the position is kept for the screen); else why not."""
    tier = tier_id or ctx.number("waitlist_tier")
    try:
        async with ctx.db.transaction() as session:
            ctx.data["waitlist_position"] = await waitlist.join(
                session,
                event_id=ctx.number("event_id"),
                tier_id=tier,
                phone=ctx.inbound.address,
                channel=ctx.inbound.channel,
                language=ctx.session.language,
            )
    except CoreError:
        return ctx.t("Places are on sale again: choose the ticket to buy it.")
    return None


async def load_offer(ctx: Ctx, reference: str | None = None) -> bool:
    """Fill the journey with the held offer, so it continues at 'who pays' like any order."""
    async with ctx.db.transaction() as session:
        offer = await waitlist.open_offer(session, ctx.inbound.address, ctx.now, reference)
        facts = await catalog.event_facts(session, offer.event_id) if offer else None
    if offer is None or facts is None:
        return False
    ctx.data.update(
        event_id=offer.event_id,
        event_name=facts.name,
        country=facts.country,
        methods=facts.payment_methods,
        per_order_limit=facts.per_order_limit,
        tier_id=offer.tier_id,
        tier_name=offer.tier_name,
        quantity=offer.quantity,
        max_quantity=offer.quantity,
        price_minor=offer.price_minor,
        currency=offer.currency,
        order_id=offer.order_id,
        reference=offer.reference,
    )
    return True
