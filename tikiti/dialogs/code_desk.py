"""A reseller's or promo code, typed at the confirm screen or after `BUY …` by SMS: checked
and priced before the buyer confirms; the hold takes it for real (and may still refuse it)."""

from __future__ import annotations

from tikiti.core import holds, promos, sale_codes
from tikiti.core.discounts import PromoBuyerLimit, PromoNotFound, PromoNotValid, PromoUsedUp
from tikiti.core.errors import CoreError
from tikiti.core.resellers import ResellerNotFound
from tikiti.dialogs.context import Ctx


async def accept(ctx: Ctx, code: str) -> str | None:
    """None when the code is taken into the order; else why not, in the buyer's words."""
    wanted = code.strip().upper()
    async with ctx.db.transaction() as session:
        kind = await sale_codes.classify(session, event_id=ctx.number("event_id"), code=wanted)
        if kind is None:
            return ctx.t("No such code for this event. Check it and try again.")
        if kind == sale_codes.CodeKind.RESELLER:
            ctx.data["reseller_code"] = wanted
            return None
        try:
            quote = await promos.quote(
                session,
                event_id=ctx.number("event_id"),
                code=wanted,
                items=[holds.Item(ctx.number("tier_id"), ctx.number("quantity"))],
                currency=str(ctx.data["currency"]),
                buyer_phone=ctx.inbound.address,
            )
        except CoreError as error:
            return refusal(ctx, error)
    ctx.data["promo_code"] = wanted
    ctx.data["discount_minor"] = quote.discount.minor
    return None


def refusal(ctx: Ctx, error: CoreError) -> str:
    """What a refused code means to a buyer; anything else is the caller's to explain."""
    if isinstance(error, PromoUsedUp):
        return ctx.t("Sorry, this code has been used up.")
    if isinstance(error, PromoBuyerLimit):
        return ctx.t("You have already used this code.")
    if isinstance(error, PromoNotValid):
        return ctx.t("This code cannot be used for these tickets now.")
    if isinstance(error, PromoNotFound | ResellerNotFound):
        return ctx.t("No such code for this event. Check it and try again.")
    raise error


def is_code_error(error: CoreError) -> bool:
    return isinstance(
        error, PromoUsedUp | PromoBuyerLimit | PromoNotValid | PromoNotFound | ResellerNotFound
    )
