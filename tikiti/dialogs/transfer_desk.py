"""Giving a ticket to another phone from the menu or by `SEND <CODE> <PHONE>`: ask, then
confirm with the one-time code the holder receives by SMS."""

from __future__ import annotations

from tikiti.core import buyers, transfers
from tikiti.core.codes import InvalidCode, parse
from tikiti.dialogs.context import Ctx


async def ask(ctx: Ctx, to_phone: str) -> str | None:
    """None when the code is on its way; else why the transfer cannot be made."""
    try:
        async with ctx.db.transaction() as session:
            ctx.data["transfer_id"] = await transfers.request(
                session,
                ticket_id=ctx.number("ticket_id"),
                holder_phone=ctx.inbound.address,
                to_phone=to_phone,
                channel=ctx.inbound.channel,
                language=ctx.session.language,
                now=ctx.now,
            )
    except transfers.TransferRefused as refusal:
        return explain(ctx, refusal.reason)
    ctx.data["transfer_to"] = to_phone
    return None


async def confirm(ctx: Ctx, one_time: str) -> str | None:
    """None when the ticket has moved; else why not (a wrong code, a stale transfer …)."""
    try:
        async with ctx.db.transaction() as session:
            outcome = await transfers.confirm(
                session,
                transfer_id=ctx.number("transfer_id"),
                holder_phone=ctx.inbound.address,
                one_time=one_time.strip(),
                now=ctx.now,
            )
    except transfers.TransferRefused as refusal:
        return explain(ctx, refusal.reason)
    if isinstance(outcome, transfers.Refused):
        return explain(ctx, outcome.reason, outcome.tries_left)
    return None


async def find_own_ticket(ctx: Ctx, code: str) -> int | None:
    try:
        wanted = parse(code)
    except InvalidCode:
        return None
    async with ctx.db.read() as connection:
        held = await buyers.upcoming_tickets(connection, ctx.inbound.address, now=ctx.now)
    return next((t.id for t in held if t.code == wanted), None)


def explain(ctx: Ctx, reason: transfers.Refusal, tries_left: int = 0) -> str:
    texts = {
        transfers.Refusal.NOT_HOLDER: ctx.t("That ticket is not on this phone."),
        transfers.Refusal.NOT_ALLOWED: ctx.t(
            "The organizer does not allow transfers for this event."
        ),
        transfers.Refusal.TOO_LATE: ctx.t("It is too close to the event to transfer tickets."),
        transfers.Refusal.TOO_MANY: ctx.t("This ticket cannot be transferred again."),
        transfers.Refusal.USED: ctx.t("This ticket was already used at the gate."),
        transfers.Refusal.NOT_VALID: ctx.t("This ticket is no longer valid."),
        transfers.Refusal.SAME_PHONE: ctx.t("That is this phone's own number."),
        transfers.Refusal.WRONG_CODE: ctx.t("Wrong code. {left} tries left.", left=tries_left),
        transfers.Refusal.EXPIRED: ctx.t("That code has expired. Start the transfer again."),
    }
    return texts[reason]
