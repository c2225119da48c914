"""One function per state: the session in, a screen out. Screens read; they never change data."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers

from tikiti.core import buyers, catalog
from tikiti.core.codes import format_code
from tikiti.core.money import Money
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.i18n import LANGUAGES

METHOD_NAMES = {
    "ecocash": "EcoCash",
    "onemoney": "OneMoney",
    "mpesa": "M-Pesa",
    "mtn": "MTN MoMo",
    "airtel": "Airtel Money",
    "sandbox": "Sandbox",
}


@dataclass(frozen=True)
class Screen:
    text: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    end: bool = False
    navigation: bool = True


@lru_cache(maxsize=4096)  # pure, and dearer than the rest of a screen
def local_number(phone: str) -> str:
    parsed = phonenumbers.parse(phone, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL).replace(
        " ", ""
    )


def short_date(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d %b")


async def home(ctx: Ctx) -> Screen:
    options = [
        ("buy", ctx.t("Buy tickets")),
        ("tickets", ctx.t("My tickets")),
        ("language", ctx.t("Language")),
    ]
    if "gate" in ctx.data:  # a gate staff phone keeps its way back to the gate
        options.append(("gate", ctx.t("Gate check-in")))
    if "agent" in ctx.data:  # and an agent's, to the agent menu
        options.append(("agent", ctx.t("Agent menu")))
    if ctx.data.get("offer"):  # a place from the waiting list is held for this phone
        options.insert(0, ("offer", ctx.t("Pay for my offer")))
    return Screen(ctx.t("Tikiti tickets"), options, navigation=False)


async def on_sale(ctx: Ctx) -> list[catalog.EventSummary]:
    """The listing, re-read at most every `listing_ttl` seconds: a rush asks for it constantly."""
    cached = ctx.listing.get("events")
    if cached and time.monotonic() - cached[0] < ctx.listing_ttl:
        return cached[1]
    async with ctx.db.read() as connection:
        found = await catalog.events_on_sale(connection, limit=60, now=ctx.now)
    ctx.listing["events"] = (time.monotonic(), found)
    return found


async def events(ctx: Ctx) -> Screen:
    found = await on_sale(ctx)
    if not found:
        return Screen(ctx.t("No events are on sale right now."))
    return Screen(ctx.t("Choose an event"), event_options(found))


# The last listing labelled, and its labels; holding the listing keeps its identity unique.
_labelled: dict[str, tuple[list[catalog.EventSummary], list[tuple[str, str]]]] = {}


def event_options(found: list[catalog.EventSummary]) -> list[tuple[str, str]]:
    """The listing's options, labelled once per listing rather than on every hop: the listing
    is cached (see on_sale) and its labels depend on nothing else."""
    last = _labelled.get("events")
    if last is None or last[0] is not found:
        last = _labelled["events"] = (
            found,
            [(str(e.id), f"{e.name[:22]} {short_date(e.starts_at, e.timezone)}") for e in found],
        )
    return list(last[1])


def tier_label(ctx: Ctx, tier: catalog.TierAvailability, currency: str) -> str:
    price = tier.prices.get(currency) or next(iter(tier.prices.values()), None)
    label = f"{tier.name[:16]} {price.format() if price else ''}".strip()
    if tier.sold_out:
        sold_out = ctx.t("SOLD OUT")
        return f"{label} {sold_out}"
    if tier.few_left:
        few = ctx.t("few left")
        return f"{label} ({few})"
    return label


async def tiers(ctx: Ctx) -> Screen:
    currency, name = str(ctx.data["currency"]), str(ctx.data["event_name"])
    async with ctx.db.read() as connection:
        available = await catalog.tiers(connection, ctx.number("event_id"))
    options = [(str(tier.id), tier_label(ctx, tier, currency)) for tier in available]
    return Screen(ctx.t("{event}: choose a ticket", event=name[:30]), options)


async def quantity(ctx: Ctx) -> Screen:
    return Screen(
        ctx.t(
            "How many {tier} tickets? Reply 1-{most}",
            tier=ctx.data["tier_name"],
            most=ctx.data["max_quantity"],
        )
    )


async def payer(ctx: Ctx) -> Screen:
    mine = ctx.t("This number ({phone})", phone=local_number(ctx.inbound.address))
    return Screen(ctx.t("Which number pays?"), [("self", mine), ("other", ctx.t("Another number"))])


async def payer_phone(ctx: Ctx) -> Screen:
    return Screen(ctx.t("Enter the mobile number that pays, e.g. 0771234567"))


async def method(ctx: Ctx) -> Screen:
    accepted = ctx.data.get("methods") or []
    options = [(str(m), METHOD_NAMES.get(str(m), str(m))) for m in accepted]  # type: ignore[attr-defined]
    return Screen(ctx.t("Pay with"), options)


def total(ctx: Ctx) -> Money:
    """What the buyer pays: the hold's own figure once placed, else the price less any code's
    quoted discount."""
    paid = ctx.data.get("paid_minor")
    if isinstance(paid, int):
        return Money(paid, str(ctx.data["currency"]))
    gross = ctx.number("price_minor") * ctx.number("quantity")
    discount = ctx.data.get("discount_minor")
    return Money(
        max(gross - (discount if isinstance(discount, int) else 0), 0), str(ctx.data["currency"])
    )


async def confirm(ctx: Ctx) -> Screen:
    text = ctx.t(
        "{quantity} x {tier}, {event}. Total {total}. Pay by {method} from {phone}.",
        quantity=ctx.data["quantity"],
        tier=ctx.data["tier_name"],
        event=str(ctx.data["event_name"])[:30],
        total=total(ctx).format(),
        method=METHOD_NAMES.get(str(ctx.data["method"]), str(ctx.data["method"])),
        phone=local_number(str(ctx.data["payer"])),
    )
    options = [("confirm", ctx.t("Confirm and pay"))]
    if "promo_code" not in ctx.data and "reseller_code" not in ctx.data:
        options.append(("code", ctx.t("I have a code")))
    return Screen(text, options)


async def sale_code(ctx: Ctx) -> Screen:
    return Screen(ctx.t("Type the promo or seller code:"))


async def paying(ctx: Ctx) -> Screen:
    if total(ctx).minor == 0:
        free = ctx.t(
            "Your tickets are free with this code and come by SMS. Order {reference}.",
            reference=ctx.data["reference"],
        )
        return Screen(free, end=True, navigation=False)
    text = ctx.t(
        "Approve the {method} prompt on {phone} to pay {total}. "
        "Your tickets will come by SMS. Order {reference}.",
        method=METHOD_NAMES.get(str(ctx.data["method"]), str(ctx.data["method"])),
        phone=local_number(str(ctx.data["payer"])),
        total=total(ctx).format(),
        reference=ctx.data["reference"],
    )
    return Screen(text, end=True, navigation=False)


async def failed(ctx: Ctx) -> Screen:
    return Screen(
        ctx.t(
            "{reason} Nothing was charged. Please try again.", reason=ctx.data.get("failure", "")
        ),
        end=True,
        navigation=False,
    )


async def my_tickets(ctx: Ctx) -> Screen:
    async with ctx.db.read() as connection:
        held = await buyers.upcoming_tickets(connection, ctx.inbound.address, now=ctx.now)
    if not held:
        return Screen(ctx.t("You have no tickets for upcoming events."))
    # No partial codes here: a buyer would read them out as their ticket code.
    options = [
        (
            str(h.id),
            f"{h.event_name[:16]}, {short_date(h.starts_at, h.timezone)}, {h.tier_name[:10]}",
        )
        for h in held
    ]
    return Screen(ctx.t("Your tickets"), options)


async def ticket(ctx: Ctx) -> Screen:
    async with ctx.db.session() as session:
        held = {
            h.id: h
            for h in await buyers.upcoming_tickets(session, ctx.inbound.address, now=ctx.now)
        }
    found = held.get(ctx.number("ticket_id"))
    if found is None:
        return Screen(ctx.t("You have no tickets for upcoming events."))
    seat = f" {found.seat}" if found.seat else ""
    when = short_date(found.starts_at, found.timezone)
    code = format_code(found.code)
    label = ctx.t("Code")
    text = f"{found.event_name[:30]} {when}, {found.tier_name}{seat}. {label} {code}"
    return Screen(
        text,
        [
            ("resend", _resend_label(ctx)),
            ("transfer", ctx.t("Give it to another phone")),
        ],
    )


def _resend_label(ctx: Ctx) -> str:
    """USSD's tickets travel by SMS; a chat's come back in the chat."""
    if ctx.inbound.channel in ("ussd", "sms"):
        return ctx.t("Send it again by SMS")
    return ctx.t("Send it again here")


async def resent(ctx: Ctx) -> Screen:
    if ctx.inbound.channel in ("ussd", "sms"):
        return Screen(ctx.t("Your ticket is on its way by SMS."), end=True, navigation=False)
    return Screen(ctx.t("Your ticket is on its way."), end=True, navigation=False)


async def language(ctx: Ctx) -> Screen:
    return Screen(ctx.t("Choose a language"), [(code, name) for code, name in LANGUAGES.items()])


async def transfer_phone(ctx: Ctx) -> Screen:
    return Screen(ctx.t("The new holder's phone number:"))


async def transfer_code(ctx: Ctx) -> Screen:
    return Screen(
        ctx.t(
            "We sent you a code by SMS. Enter it to give the ticket to {phone}:",
            phone=local_number(str(ctx.data.get("transfer_to", ""))),
        )
    )


async def transferred(ctx: Ctx) -> Screen:
    return Screen(
        ctx.t(
            "Done. {phone} gets the ticket by SMS. Your old code no longer works.",
            phone=local_number(str(ctx.data.get("transfer_to", ""))),
        ),
        end=True,
        navigation=False,
    )


async def waitlist_ask(ctx: Ctx) -> Screen:
    return Screen(
        ctx.t(
            "{tier} is sold out. Join the waiting list? If a place comes back, we hold it "
            "for you and send an SMS.",
            tier=str(ctx.data.get("waitlist_tier_name", ""))[:30],
        ),
        [("join", ctx.t("Join the waiting list"))],
    )


async def waitlist_joined(ctx: Ctx) -> Screen:
    return Screen(
        ctx.t(
            "You are number {position} in line for {tier}. We will send an SMS if a place "
            "comes back.",
            position=ctx.data.get("waitlist_position", 0),
            tier=str(ctx.data.get("waitlist_tier_name", ""))[:30],
        ),
        end=True,
        navigation=False,
    )


async def notice(ctx: Ctx) -> Screen:
    return Screen(str(ctx.data.get("notice", "")), end=True, navigation=False)


SCREENS: dict[str, Callable[[Ctx], Awaitable[Screen]]] = {
    "home": home,
    "events": events,
    "tiers": tiers,
    "quantity": quantity,
    "payer": payer,
    "payer_phone": payer_phone,
    "method": method,
    "confirm": confirm,
    "paying": paying,
    "failed": failed,
    "my_tickets": my_tickets,
    "ticket": ticket,
    "resent": resent,
    "language": language,
    "notice": notice,
    "transfer_phone": transfer_phone,
    "transfer_code": transfer_code,
    "transferred": transferred,
    "waitlist_ask": waitlist_ask,
    "waitlist_joined": waitlist_joined,
    "sale_code": sale_code,
}
