"""Screens for people who work the event from a phone: gate staff checking codes, and agents
selling from their float. Kept apart from the buyer's screens they share a menu with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tikiti.core.money import Money
from tikiti.dialogs import agent_desk
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.screens import Screen, local_number


def _post(ctx: Ctx) -> dict[str, object]:
    found = ctx.data.get("gate")
    return found if isinstance(found, dict) else {}


async def gate_pin(ctx: Ctx) -> Screen:
    post = _post(ctx)
    return Screen(
        ctx.t(
            "Gate {gate}, {event}. Enter your gate PIN:",
            gate=post.get("gate", ""),
            event=str(post.get("event_name", ""))[:40],
        )
    )


async def gate_code(ctx: Ctx) -> Screen:
    prompt = ctx.t("Gate {gate}: enter a ticket code", gate=_post(ctx).get("gate", ""))
    last = ctx.data.get("gate_last")
    return Screen(f"{last}\n{prompt}" if last else prompt)


def _agent(ctx: Ctx) -> dict[str, object]:
    found = ctx.data.get("agent")
    return found if isinstance(found, dict) else {}


async def agent_pin(ctx: Ctx) -> Screen:
    name = str(_agent(ctx).get("name", ""))[:30]
    return Screen(ctx.t("Tikiti agent {name}. Enter your PIN:", name=name))


async def agent_new_pin(ctx: Ctx) -> Screen:
    return Screen(ctx.t("Choose your own PIN (4 to 8 digits):"))


async def agent_repeat_pin(ctx: Ctx) -> Screen:
    return Screen(ctx.t("Enter the new PIN again:"))


async def agent_home(ctx: Ctx) -> Screen:
    name = str(_agent(ctx).get("name", ""))[:30]
    return Screen(
        ctx.t("Agent {name}", name=name),
        [
            ("sell", ctx.t("Sell tickets")),
            ("balance", ctx.t("Float balance")),
            ("today", ctx.t("Today's sales")),
            ("verify", ctx.t("Check a ticket code")),
            ("history", ctx.t("Last 5 movements")),
            ("buy", ctx.t("Buy for myself")),
        ],
        navigation=False,
    )


async def agent_buyer(ctx: Ctx) -> Screen:
    return Screen(ctx.t("The buyer's phone number (the tickets go there):"))


async def agent_confirm(ctx: Ctx) -> Screen:
    quantity = ctx.number("quantity")
    total = Money(ctx.number("price_minor") * quantity, str(ctx.data["currency"]))
    return Screen(
        ctx.t(
            "{quantity} x {tier}, {event}. Total {total}. Buyer {phone}. Enter your PIN to sell:",
            quantity=quantity,
            tier=ctx.data["tier_name"],
            event=str(ctx.data["event_name"])[:30],
            total=str(total),
            phone=local_number(str(ctx.data["buyer"])),
        )
    )


async def agent_sold(ctx: Ctx) -> Screen:
    sold = ctx.data.get("sold")
    facts = sold if isinstance(sold, dict) else {}
    return Screen(
        ctx.t(
            "Sold. Order {reference}, {total}: tickets sent to {phone}. Float {float}.",
            reference=facts.get("reference", ""),
            total=facts.get("total", ""),
            phone=local_number(str(facts.get("buyer", ctx.inbound.address))),
            float=facts.get("float", ""),
        ),
        end=True,
        navigation=False,
    )


async def agent_balance(ctx: Ctx) -> Screen:
    return Screen(await agent_desk.balance_text(ctx))


async def agent_today(ctx: Ctx) -> Screen:
    return Screen(await agent_desk.today_text(ctx))


async def agent_history(ctx: Ctx) -> Screen:
    return Screen(await agent_desk.history_text(ctx))


async def agent_verify(ctx: Ctx) -> Screen:
    prompt = ctx.t("Enter a ticket code to check:")
    found = ctx.data.get("agent_verified")
    return Screen(f"{found}\n{prompt}" if found else prompt)


STAFF_SCREENS: dict[str, Callable[[Ctx], Awaitable[Screen]]] = {
    "gate_pin": gate_pin,
    "gate_code": gate_code,
    "agent_pin": agent_pin,
    "agent_new_pin": agent_new_pin,
    "agent_repeat_pin": agent_repeat_pin,
    "agent_home": agent_home,
    "agent_buyer": agent_buyer,
    "agent_confirm": agent_confirm,
    "agent_sold": agent_sold,
    "agent_balance": agent_balance,
    "agent_today": agent_today,
    "agent_history": agent_history,
    "agent_verify": agent_verify,
}
