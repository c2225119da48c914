"""SMS and chat keywords that jump into the booking machine: EVENTS, BUY ZIMFEST VIP 2,
TICKETS, SEND <CODE> <PHONE>, LANG, HELP, STOP, START. A keyword always starts afresh,
whatever the conversation was doing; anything else is a reply to the current screen."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tikiti.core import buyers, catalog
from tikiti.core.errors import InvalidInput
from tikiti.core.phones import normalize_phone
from tikiti.dialogs import code_desk, transfer_desk, waitlist_desk
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.i18n import LANGUAGES
from tikiti.dialogs.machine import State
from tikiti.dialogs.screens import on_sale
from tikiti.dialogs.steps import Conversation

WORDS = frozenset(
    {"EVENTS", "BUY", "TICKETS", "LANG", "HELP", "STOP", "START", "SEND", "WAIT", "PAY"}
)
MAX_ARGS = 4
KEEP_ON_RESET = ("gate", "gate_ok")  # a gate phone stays a gate phone


@dataclass(frozen=True, slots=True)
class Command:
    word: str
    args: tuple[str, ...] = ()


def parse(text: str) -> Command | None:
    """A keyword in any letter case, with at most a few words after it; None for a reply."""
    words = text.strip().split()
    if not words or words[0].upper() not in WORDS or len(words) > 1 + MAX_ARGS:
        return None
    return Command(words[0].upper(), tuple(words[1:]))


async def apply(ctx: Ctx, command: Command) -> None:
    _reset(ctx)
    match command.word:
        case "EVENTS":
            _go(ctx, State.EVENTS)
        case "TICKETS":
            _go(ctx, State.MY_TICKETS)
        case "LANG":
            await _language(ctx, command.args)
        case "HELP":
            _notice(ctx, _help(ctx))
        case "STOP":
            await _opt(ctx, out=True)
        case "START":
            await _opt(ctx, out=False)
        case "BUY":
            await _buy(ctx, command.args)
        case "SEND":
            await _send(ctx, command.args)
        case "WAIT":
            await _wait(ctx, command.args)
        case "PAY":
            await _pay(ctx, command.args)


def _reset(ctx: Ctx) -> None:
    session = ctx.session
    session.data = {k: v for k, v in session.data.items() if k in KEEP_ON_RESET}
    session.state, session.stack, session.page, session.error = State.HOME.value, [], 0, ""


def _go(ctx: Ctx, state: State, *through: State) -> None:
    ctx.session.state = state.value
    ctx.session.stack = [State.HOME.value, *(s.value for s in through)]


def _notice(ctx: Ctx, text: str) -> None:
    ctx.data["notice"] = text
    ctx.session.state = State.NOTICE.value


def _help(ctx: Ctx) -> str:
    return ctx.t(
        "Send EVENTS to see events, BUY and an event code (e.g. BUY {code} 2) to buy, "
        "TICKETS for your tickets, LANG for language, STOP to stop messages.",
        code="ZIMFEST",
    )


async def _language(ctx: Ctx, args: tuple[str, ...]) -> None:
    wanted = args[0].lower() if args else ""
    chosen = next(
        (code for code, name in LANGUAGES.items() if wanted in (code, name.lower())), None
    )
    if chosen is None:
        _go(ctx, State.LANGUAGE)
        return
    ctx.session.language = chosen
    async with ctx.db.transaction() as session:
        await buyers.set_language(session, ctx.inbound.address, chosen)


async def _opt(ctx: Ctx, *, out: bool) -> None:
    async with ctx.db.transaction() as session:
        await buyers.set_opted_out(session, ctx.inbound.address, out=out, now=ctx.now)
    if out:
        _notice(
            ctx,
            ctx.t(
                "You will get no more messages from Tikiti, except tickets you pay for. "
                "Send START to undo."
            ),
        )
    else:
        ctx.session.error = ctx.t("Welcome back. You will get Tikiti messages again.")


async def _send(ctx: Ctx, args: tuple[str, ...]) -> None:
    """SEND <CODE> <PHONE>: give a ticket away; the holder confirms with a code by SMS."""
    if len(args) != 2:
        _notice(ctx, ctx.t("To give a ticket away send: SEND <ticket code> <phone number>"))
        return
    ticket_id = await transfer_desk.find_own_ticket(ctx, args[0])
    if ticket_id is None:
        _notice(ctx, ctx.t("That ticket is not on this phone."))
        return
    try:
        to_phone = normalize_phone(args[1], ctx.default_country)
    except InvalidInput:
        _notice(ctx, ctx.t("That is not a mobile number. Try again."))
        return
    ctx.data["ticket_id"] = ticket_id
    refusal = await transfer_desk.ask(ctx, to_phone)
    if refusal is not None:
        _notice(ctx, refusal)
        return
    _go(ctx, State.TRANSFER_CODE, State.MY_TICKETS)


async def _wait(ctx: Ctx, args: tuple[str, ...]) -> None:
    """WAIT <EVENTCODE> [<TIER>]: join the line for a sold-out tier."""
    event = await _event(ctx, args)
    if event is None:
        return
    await Conversation(ctx).choose_event(event)
    async with ctx.db.read() as connection:
        tiers = await catalog.tiers(connection, event)
    named = args[1] if len(args) > 1 else None
    tier = _match_tier(tiers, named) if named else (tiers[0] if len(tiers) == 1 else None)
    if tier is None:
        _go(ctx, State.TIERS, State.EVENTS)
        return
    ctx.data["waitlist_tier_name"] = tier.name
    refusal = await waitlist_desk.join(ctx, tier.id)
    if refusal is not None:
        _notice(ctx, refusal)
        return
    ctx.session.state = State.WAITLIST_JOINED.value


async def _pay(ctx: Ctx, args: tuple[str, ...]) -> None:
    """PAY <REF>: pay for the place the waiting list holds for this phone."""
    if not await waitlist_desk.load_offer(ctx, args[0] if args else None):
        _notice(ctx, ctx.t("No offer is held for this phone now."))
        return
    _go(ctx, State.PAYER)


async def _event(ctx: Ctx, args: tuple[str, ...]) -> int | None:
    """The on-sale event a keyword names, or None with the screen already set to say so."""
    listing = await on_sale(ctx)
    code = args[0].upper() if args else ""
    event = next((e for e in listing if e.code == code), None)
    if event is not None:
        return event.id
    _go(ctx, State.EVENTS)
    guess = difflib.get_close_matches(code, [e.code for e in listing], n=1, cutoff=0.6)
    if not code:
        return None
    ctx.session.error = (
        ctx.t("No event {code}. Did you mean {guess}?", code=code[:16], guess=guess[0])
        if guess
        else ctx.t("No event {code} is on sale. Choose one:", code=code[:16])
    )
    return None


async def _buy(ctx: Ctx, args: tuple[str, ...]) -> None:
    event = await _event(ctx, args)
    if event is None:
        return
    model = Conversation(ctx)
    await model.choose_event(event)
    await _tier_and_quantity(ctx, model, event, args[1:])


async def _tier_and_quantity(
    ctx: Ctx, model: Conversation, event_id: int, args: tuple[str, ...]
) -> None:
    async with ctx.db.read() as connection:
        tiers = await catalog.tiers(connection, event_id)
    words = list(args)
    code = _trailing_code(words)
    named = words[0] if words and not words[0].isdigit() else None
    quantity = words[-1] if words and words[-1].isdigit() else None
    open_tiers = [t for t in tiers if not t.sold_out]
    if named is None and len(open_tiers) == 1 and len(tiers) == 1:
        tier: catalog.TierAvailability | None = open_tiers[0]
    else:
        tier = _match_tier(tiers, named) if named else None
    if tier is None:
        _go(ctx, State.TIERS, State.EVENTS)
        if named:
            ctx.session.error = ctx.t("No ticket type {name}. Choose one:", name=named[:16])
        return
    if tier.sold_out:
        _go(ctx, State.TIERS, State.EVENTS)
        ctx.session.error = ctx.t("Sorry, that ticket is sold out.")
        return
    model.choose_tier(tier)
    if quantity is not None and 1 <= int(quantity) <= ctx.number("max_quantity"):
        ctx.data["quantity"] = int(quantity)
        _go(ctx, State.PAYER, State.EVENTS, State.TIERS, State.QUANTITY)
        if code is not None:
            refusal = await code_desk.accept(ctx, code)
            ctx.session.error = refusal or ""
        return
    _go(ctx, State.QUANTITY, State.EVENTS, State.TIERS)
    if quantity is not None:
        ctx.session.error = ctx.t(
            "Reply with a number from 1 to {most}.", most=ctx.data.get("max_quantity", 1)
        )


def _trailing_code(words: list[str]) -> str | None:
    """Takes a seller's or promo code off the end of `words`: a last word after the quantity,
    as in BUY ZIMFEST VIP 2 TINO."""
    if not words or words[-1].isdigit():
        return None
    if (len(words) >= 2 and words[-2].isdigit()) or len(words) >= 3:
        return words.pop()
    return None


def _match_tier(
    tiers: list[catalog.TierAvailability], name: str
) -> catalog.TierAvailability | None:
    wanted = name.upper()
    for tier in tiers:
        if wanted in (tier.code.upper(), tier.name.upper()):
            return tier
    starts = [t for t in tiers if t.name.upper().startswith(wanted)]
    return starts[0] if len(starts) == 1 else None
