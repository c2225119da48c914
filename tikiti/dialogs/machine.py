"""The booking journey as data: states, one `input` trigger, ordered guarded transitions.

Each source state lists its transitions in order; the first whose guards pass wins, and the last
one for a state is the unconditional fallback that re-shows the screen with a reason.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from transitions.extensions.asyncio import AsyncEventData, AsyncMachine

if TYPE_CHECKING:  # aliases of transitions' stubs only
    from transitions.extensions.asyncio import AsyncCallback, AsyncCallbackFunc


class State(enum.StrEnum):
    HOME = "home"
    EVENTS = "events"
    TIERS = "tiers"
    QUANTITY = "quantity"
    PAYER = "payer"
    PAYER_PHONE = "payer_phone"
    METHOD = "method"
    CONFIRM = "confirm"
    PAYING = "paying"
    FAILED = "failed"
    MY_TICKETS = "my_tickets"
    TICKET = "ticket"
    RESENT = "resent"
    LANGUAGE = "language"
    GATE_PIN = "gate_pin"
    GATE_CODE = "gate_code"
    NOTICE = "notice"  # a chat keyword's one-off answer (HELP, STOP)
    AGENT_PIN = "agent_pin"
    AGENT_NEW_PIN = "agent_new_pin"
    AGENT_REPEAT_PIN = "agent_repeat_pin"
    AGENT_HOME = "agent_home"
    AGENT_BUYER = "agent_buyer"
    AGENT_CONFIRM = "agent_confirm"
    AGENT_SOLD = "agent_sold"
    AGENT_BALANCE = "agent_balance"
    AGENT_TODAY = "agent_today"
    AGENT_VERIFY = "agent_verify"
    AGENT_HISTORY = "agent_history"
    TRANSFER_PHONE = "transfer_phone"
    TRANSFER_CODE = "transfer_code"
    TRANSFERRED = "transferred"
    WAITLIST_ASK = "waitlist_ask"
    WAITLIST_JOINED = "waitlist_joined"
    SALE_CODE = "sale_code"


END_STATES = frozenset(
    {
        State.PAYING,
        State.FAILED,
        State.RESENT,
        State.NOTICE,
        State.AGENT_SOLD,
        State.TRANSFERRED,
        State.WAITLIST_JOINED,
    }
)
# Entered only by a chat keyword's jump (dialogs/keywords.py), never by a transition.
JUMP_ONLY = frozenset({State.NOTICE})


def _t(
    source: State, dest: State, conditions: str | list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"trigger": "input", "source": source.value, "dest": dest.value}
    if conditions:
        spec["conditions"] = conditions
    spec.update(extra)
    return spec


def _invalid(state: State, reason: str = "invalid") -> dict[str, Any]:
    return _t(state, state, after=f"reject_{reason}")


TRANSITIONS: list[dict[str, Any]] = [
    _t(State.HOME, State.EVENTS, "chose_buy"),
    _t(State.HOME, State.MY_TICKETS, "chose_tickets"),
    _t(State.HOME, State.LANGUAGE, "chose_language"),
    _t(State.HOME, State.GATE_CODE, ["chose_gate", "gate_trusted"], after="clear_gate_answer"),
    _t(State.HOME, State.GATE_PIN, "chose_gate"),
    _t(State.HOME, State.AGENT_HOME, ["chose_agent", "agent_trusted"], after="enter_agent_home"),
    _t(State.HOME, State.AGENT_PIN, "chose_agent"),
    _t(State.HOME, State.PAYER, ["chose_offer", "offer_loaded"]),
    _t(State.HOME, State.HOME, "chose_offer", after="reject_offer_gone"),
    _invalid(State.HOME),
    _t(State.EVENTS, State.TIERS, "picked", after="remember_event"),
    _invalid(State.EVENTS),
    _t(State.TIERS, State.QUANTITY, ["picked", "tier_has_places"], after="remember_tier"),
    _t(State.TIERS, State.WAITLIST_ASK, "picked", after="remember_sold_out_tier"),
    _invalid(State.TIERS),
    _t(
        State.QUANTITY,
        State.AGENT_BUYER,
        ["valid_quantity", "agent_selling"],
        after="remember_quantity",
    ),
    _t(State.QUANTITY, State.PAYER, "valid_quantity", after="remember_quantity"),
    _invalid(State.QUANTITY, "quantity"),
    _t(State.PAYER, State.METHOD, "chose_self", after="remember_own_number"),
    _t(State.PAYER, State.PAYER_PHONE, "chose_other"),
    _invalid(State.PAYER),
    _t(State.PAYER_PHONE, State.METHOD, "valid_phone", after="remember_payer"),
    _invalid(State.PAYER_PHONE, "phone"),
    _t(State.METHOD, State.CONFIRM, "picked", after="remember_method"),
    _invalid(State.METHOD),
    _t(State.CONFIRM, State.PAYING, ["chose_confirm", "checkout_ok"], prepare="checkout"),
    _t(State.CONFIRM, State.TIERS, ["chose_confirm", "checkout_sold_out"]),
    _t(State.CONFIRM, State.FAILED, "chose_confirm"),
    _t(State.CONFIRM, State.SALE_CODE, "chose_code"),
    _invalid(State.CONFIRM),
    _t(State.MY_TICKETS, State.TICKET, "picked", after="remember_ticket"),
    _invalid(State.MY_TICKETS),
    _t(State.TICKET, State.RESENT, ["chose_resend", "resend_ticket"]),
    _t(State.TICKET, State.TICKET, "chose_resend", after="reject_resend_too_soon"),
    _t(State.TICKET, State.TRANSFER_PHONE, "chose_transfer"),
    _invalid(State.TICKET),
    _t(State.LANGUAGE, State.HOME, "picked", after="remember_language"),
    _invalid(State.LANGUAGE),
    # Transfers: the new holder's number, then the one-time code the holder gets by SMS.
    _t(State.TRANSFER_PHONE, State.TRANSFER_CODE, ["valid_phone", "transfer_asked"]),
    _t(State.TRANSFER_PHONE, State.TICKET, "valid_phone", after="reject_transfer"),
    _invalid(State.TRANSFER_PHONE, "phone"),
    _t(State.TRANSFER_CODE, State.TRANSFERRED, "transfer_confirmed"),
    _invalid(State.TRANSFER_CODE, "transfer"),
    # A promo or reseller code, typed before confirming.
    _t(State.SALE_CODE, State.CONFIRM, "code_accepted"),
    _invalid(State.SALE_CODE, "code"),
    # A sold-out tier: join its waiting list.
    _t(State.WAITLIST_ASK, State.WAITLIST_JOINED, ["chose_join", "waitlist_joined"]),
    _t(State.WAITLIST_ASK, State.TIERS, "chose_join", after="reject_waitlist"),
    _invalid(State.WAITLIST_ASK),
    # Gate staff: a registered phone, its PIN, then any number of ticket codes.
    _t(State.GATE_PIN, State.GATE_CODE, "pin_ok"),
    _invalid(State.GATE_PIN, "pin"),
    _t(State.GATE_CODE, State.GATE_CODE, "code_checked"),
    _t(State.GATE_CODE, State.HOME, after="forget_gate"),  # the post was revoked meanwhile
    # Agents: a PIN (their own after the first), then selling for cash from the float.
    _t(State.AGENT_PIN, State.AGENT_NEW_PIN, ["agent_pin_ok", "must_change_pin"]),
    _t(State.AGENT_PIN, State.AGENT_HOME, "agent_pin_ok", after="enter_agent_home"),
    _invalid(State.AGENT_PIN, "agent_pin"),
    _t(State.AGENT_NEW_PIN, State.AGENT_REPEAT_PIN, "valid_new_pin", after="remember_new_pin"),
    _invalid(State.AGENT_NEW_PIN, "new_pin"),
    _t(State.AGENT_REPEAT_PIN, State.AGENT_HOME, "same_new_pin", after="save_new_pin"),
    _t(State.AGENT_REPEAT_PIN, State.AGENT_NEW_PIN, after="reject_pin_mismatch"),
    _t(State.AGENT_HOME, State.EVENTS, "chose_sell", after="start_agent_sale"),
    _t(State.AGENT_HOME, State.AGENT_BALANCE, "chose_balance"),
    _t(State.AGENT_HOME, State.AGENT_TODAY, "chose_today"),
    _t(State.AGENT_HOME, State.AGENT_VERIFY, "chose_verify", after="clear_verified"),
    _t(State.AGENT_HOME, State.AGENT_HISTORY, "chose_history"),
    _t(State.AGENT_HOME, State.HOME, "chose_buy", after="leave_agent_menu"),
    _invalid(State.AGENT_HOME),
    _t(State.AGENT_BUYER, State.AGENT_CONFIRM, "valid_phone", after="remember_buyer"),
    _invalid(State.AGENT_BUYER, "phone"),
    _t(State.AGENT_CONFIRM, State.AGENT_SOLD, "agent_sold"),
    _invalid(State.AGENT_CONFIRM, "agent_sale"),
    _t(State.AGENT_VERIFY, State.AGENT_VERIFY, "code_looked_up"),
    *(_invalid(s) for s in (State.AGENT_BALANCE, State.AGENT_TODAY, State.AGENT_HISTORY)),
    *(_t(end, State.HOME) for end in sorted(END_STATES)),
]


class StepMachine(AsyncMachine):
    """An AsyncMachine that runs a step's guards and callbacks one after another in the step's
    own task. AsyncMachine gathers them (asyncio.gather: a task per guard and per callback,
    and a future even for an empty list), which cost more than the rest of a step. Guards are
    checked in the order listed and the first that fails ends the check, as the synchronous
    machine does: a guard that does work (re-send a ticket, read a tier) never runs for input
    an earlier guard already refused. An error still raises."""

    @staticmethod
    async def await_all(callables: list[AsyncCallbackFunc]) -> list[bool | None]:
        results: list[bool | None] = []
        for func in callables:
            results.append(await func())
            if not results[-1]:
                break  # callers take all(results): the rest cannot change the answer
        return results

    def __getattr__(self, name: str) -> Any:
        # Every state change asks hasattr(machine, "model_graphs") (only diagram machines have
        # one); Machine.__getattr__ parses the name as a callback and raises twice to say no.
        if name == "model_graphs":
            raise AttributeError(name)
        return super().__getattr__(name)

    async def callbacks(  # type: ignore[override]  # as AsyncMachine's own stub does
        self, funcs: Iterable[AsyncCallback], event_data: AsyncEventData
    ) -> None:
        for func in funcs:
            await self.callback(func, event_data)


def build_machine() -> AsyncMachine:
    """One machine for the process. A step triggers its `input` event on a model of its own
    (`machine.events["input"].trigger(model, ...)`), never added to the machine: adding and
    removing a model binds a dozen convenience methods to it each time."""
    return StepMachine(
        model=None,
        states=[s.value for s in State],
        transitions=TRANSITIONS,
        initial=State.HOME.value,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )
