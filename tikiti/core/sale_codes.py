"""One box for a code: what a buyer types may be a reseller's code or a promo code.

The dialog's optional code step and the SMS keyword's last word (`BUY ZIMFEST VIP 2 TINO`) take
either; this says which, so the caller passes it to place_hold as `reseller_code` or
`promo_code`. An organizer cannot give a reseller and a promo code the same text (both `add`
functions refuse it), so the answer is never ambiguous.
"""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.models import Event, PromoCode, Reseller


class CodeKind(enum.StrEnum):
    RESELLER = "reseller"
    PROMO = "promo"


async def classify(session: AsyncSession, *, event_id: int, code: str) -> CodeKind | None:
    """Which kind of live code this is for the event, or None when it is neither."""
    wanted = code.strip().upper()
    if not wanted:
        return None
    organizer_id = select(Event.organizer_id).where(Event.id == event_id).scalar_subquery()
    reseller = await session.scalar(
        select(Reseller.id).where(
            Reseller.organizer_id == organizer_id, Reseller.code == wanted, Reseller.active
        )
    )
    if reseller is not None:
        return CodeKind.RESELLER
    promo = await session.scalar(
        select(PromoCode.id).where(
            PromoCode.event_id == event_id, PromoCode.code == wanted, PromoCode.active
        )
    )
    return None if promo is None else CodeKind.PROMO


async def is_reseller_code(session: AsyncSession, organizer_id: int, code: str) -> bool:
    found = await session.scalar(
        select(Reseller.id).where(Reseller.organizer_id == organizer_id, Reseller.code == code)
    )
    return found is not None


async def is_promo_code(session: AsyncSession, organizer_id: int, code: str) -> bool:
    """On any of the organizer's events: a reseller's code is good for all of them."""
    found = await session.scalar(
        select(PromoCode.id)
        .where(PromoCode.organizer_id == organizer_id, PromoCode.code == code)
        .limit(1)
    )
    return found is not None
