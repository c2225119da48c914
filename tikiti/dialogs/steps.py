"""Guards and actions of the booking machine: small, named, each doing one thing."""

from __future__ import annotations

import hashlib
import logging

from transitions.core import EventData

from tikiti.core import buyers, catalog, free_orders, holds, orders, pins
from tikiti.core.errors import CoreError, InvalidInput, SoldOut
from tikiti.core.phones import is_mobile, normalize_phone
from tikiti.dialogs import agent_desk, code_desk, gate_desk, transfer_desk, waitlist_desk
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.i18n import LANGUAGES
from tikiti.dialogs.types import Followup

logger = logging.getLogger(__name__)


def _value(event: EventData) -> str | None:
    value = event.kwargs.get("value")
    return value if isinstance(value, str) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _raw(event: EventData) -> str:
    return str(event.kwargs.get("raw", "")).strip()


class Conversation:
    """The model the machine drives for one step of one conversation."""

    state: str

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.checkout_result = ""
        self._tier: catalog.TierAvailability | None = None
        self._pin: pins.Attempt | None = None
        self._agent_pin: pins.Attempt | None = None
        self._agent_pin_tried = False
        self._sale_refusal: str | None = None
        self._transfer_refusal: str | None = None
        self._waitlist_refusal: str | None = None
        self._code_refusal: str | None = None

    # -- guards -----------------------------------------------------------------------------
    def picked(self, event: EventData) -> bool:
        return _value(event) is not None

    def chose_buy(self, event: EventData) -> bool:
        return _value(event) == "buy"

    def chose_tickets(self, event: EventData) -> bool:
        return _value(event) == "tickets"

    def chose_language(self, event: EventData) -> bool:
        return _value(event) == "language"

    def chose_self(self, event: EventData) -> bool:
        return _value(event) == "self"

    def chose_other(self, event: EventData) -> bool:
        return _value(event) == "other"

    def chose_confirm(self, event: EventData) -> bool:
        return _value(event) == "confirm"

    def chose_resend(self, event: EventData) -> bool:
        return _value(event) == "resend"

    def chose_code(self, event: EventData) -> bool:
        return _value(event) == "code"

    async def code_accepted(self, event: EventData) -> bool:
        self._code_refusal = await code_desk.accept(self.ctx, _raw(event))
        return self._code_refusal is None

    def chose_offer(self, event: EventData) -> bool:
        return _value(event) == "offer"

    async def offer_loaded(self, event: EventData) -> bool:
        return await waitlist_desk.load_offer(self.ctx)

    def chose_join(self, event: EventData) -> bool:
        return _value(event) == "join"

    async def waitlist_joined(self, event: EventData) -> bool:
        self._waitlist_refusal = await waitlist_desk.join(self.ctx)
        return self._waitlist_refusal is None

    def chose_transfer(self, event: EventData) -> bool:
        return _value(event) == "transfer"

    async def transfer_asked(self, event: EventData) -> bool:
        """Asks for the transfer (the code goes out by SMS); False with the reason if refused."""
        country = str(self.ctx.data.get("country", self.ctx.default_country))
        to_phone = normalize_phone(_raw(event), country)
        self._transfer_refusal = await transfer_desk.ask(self.ctx, to_phone)
        return self._transfer_refusal is None

    async def transfer_confirmed(self, event: EventData) -> bool:
        self._transfer_refusal = await transfer_desk.confirm(self.ctx, _raw(event))
        return self._transfer_refusal is None

    def chose_gate(self, event: EventData) -> bool:
        return _value(event) == "gate" and "gate" in self.ctx.data

    def gate_trusted(self, event: EventData) -> bool:
        return self.ctx.data.get("gate_ok") is True

    async def pin_ok(self, event: EventData) -> bool:
        self._pin = await gate_desk.try_pin(self.ctx, _raw(event))
        return self._pin is not None and self._pin.ok

    def chose_agent(self, event: EventData) -> bool:
        return _value(event) == "agent" and "agent" in self.ctx.data

    def agent_trusted(self, event: EventData) -> bool:
        return self.ctx.data.get("agent_ok") is True

    async def agent_pin_ok(self, event: EventData) -> bool:
        """Checked once per step however many transitions ask (the answer is kept)."""
        if not self._agent_pin_tried:
            self._agent_pin_tried = True
            self._agent_pin = await agent_desk.try_pin(self.ctx, _raw(event))
        return self._agent_pin is not None and self._agent_pin.ok

    def must_change_pin(self, event: EventData) -> bool:
        return bool(agent_desk.record(self.ctx).get("must_change_pin"))

    def valid_new_pin(self, event: EventData) -> bool:
        return pins.strong_enough(_raw(event))

    def same_new_pin(self, event: EventData) -> bool:
        return self.ctx.data.get("new_pin") == self._pin_digest(_raw(event))

    def agent_selling(self, event: EventData) -> bool:
        return self.ctx.data.get("agent_sale") is True

    def chose_sell(self, event: EventData) -> bool:
        return _value(event) == "sell"

    def chose_balance(self, event: EventData) -> bool:
        return _value(event) == "balance"

    def chose_today(self, event: EventData) -> bool:
        return _value(event) == "today"

    def chose_verify(self, event: EventData) -> bool:
        return _value(event) == "verify"

    def chose_history(self, event: EventData) -> bool:
        return _value(event) == "history"

    async def agent_sold(self, event: EventData) -> bool:
        """The sale itself, behind the PIN typed to confirm it (like resend_ticket, a guard
        that does the work: the transition is taken only when it happened)."""
        self._sale_refusal = await agent_desk.sell(self.ctx, _raw(event))
        return self._sale_refusal is None

    async def code_looked_up(self, event: EventData) -> bool:
        await agent_desk.verify(self.ctx, _raw(event))
        return True

    async def code_checked(self, event: EventData) -> bool:
        """Checks the code in (this guard does the work, like resend_ticket): False only when
        the phone is no longer gate staff."""
        return await gate_desk.check_code(self.ctx, _raw(event))

    async def tier_has_places(self, event: EventData) -> bool:
        tier_id = int(_value(event) or 0)
        async with self.ctx.db.read() as connection:
            found = await catalog.tiers(connection, self.ctx.number("event_id"), tier_id=tier_id)
        self._tier = found[0] if found else None
        return self._tier is not None and not self._tier.sold_out

    def valid_quantity(self, event: EventData) -> bool:
        raw = _raw(event)
        return raw.isdigit() and 1 <= int(raw) <= self.ctx.number("max_quantity")

    def valid_phone(self, event: EventData) -> bool:
        try:
            phone = normalize_phone(
                _raw(event), str(self.ctx.data.get("country", self.ctx.default_country))
            )
        except InvalidInput:
            return False
        return is_mobile(phone)

    def checkout_ok(self, event: EventData) -> bool:
        return self.checkout_result == "ok"

    def checkout_sold_out(self, event: EventData) -> bool:
        return self.checkout_result == "sold_out"

    async def resend_ticket(self, event: EventData) -> bool:
        async with self.ctx.db.transaction() as session:
            return await buyers.resend(
                session,
                self.ctx.inbound.address,
                self.ctx.number("ticket_id"),
                self.ctx.inbound.channel,
            )

    # -- actions ----------------------------------------------------------------------------
    async def remember_event(self, event: EventData) -> None:
        await self.choose_event(int(_value(event) or 0))

    async def choose_event(self, event_id: int) -> None:
        async with self.ctx.db.read() as connection:
            facts = await catalog.event_facts(connection, event_id)
        if facts is None:
            raise LookupError(f"event {event_id} vanished")
        self.ctx.data.update(
            event_id=event_id,
            event_name=facts.name,
            currency=facts.currency,
            country=facts.country,
            per_order_limit=facts.per_order_limit,
            methods=facts.payment_methods,
        )
        if self.ctx.data.get("agent_sale"):  # an agent sells in their float's currency
            self.ctx.data["currency"] = agent_desk.record(self.ctx)["currency"]

    def remember_tier(self, event: EventData) -> None:
        assert self._tier is not None
        self.choose_tier(self._tier)

    def choose_tier(self, tier: catalog.TierAvailability) -> None:
        self._tier = tier
        currency = str(self.ctx.data["currency"])
        price = self._tier.prices.get(currency) or next(iter(self._tier.prices.values()))
        self.ctx.data.update(
            tier_id=self._tier.id,
            tier_name=self._tier.name,
            price_minor=price.minor,
            currency=price.currency,
            max_quantity=min(self.ctx.number("per_order_limit"), self._tier.available),
        )

    def remember_quantity(self, event: EventData) -> None:
        self.ctx.data["quantity"] = int(_raw(event))

    def remember_own_number(self, event: EventData) -> None:
        self.ctx.data["payer"] = self.ctx.inbound.address

    def remember_payer(self, event: EventData) -> None:
        country = str(self.ctx.data.get("country", self.ctx.default_country))
        self.ctx.data["payer"] = normalize_phone(_raw(event), country)

    def remember_method(self, event: EventData) -> None:
        self.ctx.data["method"] = _value(event)

    def remember_ticket(self, event: EventData) -> None:
        self.ctx.data["ticket_id"] = int(_value(event) or 0)

    async def remember_language(self, event: EventData) -> None:
        language = _value(event) or "en"
        if language in LANGUAGES:
            self.ctx.session.language = language
            async with self.ctx.db.transaction() as session:
                await buyers.set_language(session, self.ctx.inbound.address, language)

    def reject_invalid(self, event: EventData) -> None:
        self.ctx.session.error = self.ctx.t("Please reply with one of the numbers shown.")

    def reject_quantity(self, event: EventData) -> None:
        self.ctx.session.error = self.ctx.t(
            "Reply with a number from 1 to {most}.", most=self.ctx.data.get("max_quantity", 1)
        )

    def reject_phone(self, event: EventData) -> None:
        self.ctx.session.error = self.ctx.t("That is not a mobile number. Try again.")

    def reject_pin(self, event: EventData) -> None:
        self.ctx.session.error = gate_desk.pin_refusal(self.ctx, self._pin)

    def enter_agent_home(self, event: EventData) -> None:
        agent_desk.enter_home(self.ctx)

    def reject_agent_pin(self, event: EventData) -> None:
        self.ctx.session.error = agent_desk.pin_refusal(self.ctx, self._agent_pin)

    def remember_new_pin(self, event: EventData) -> None:
        self.ctx.data["new_pin"] = self._pin_digest(_raw(event))

    def reject_new_pin(self, event: EventData) -> None:
        self.ctx.session.error = self.ctx.t("Choose 4 to 8 digits, not 1111 or 1234.")

    async def save_new_pin(self, event: EventData) -> None:
        self.ctx.data.pop("new_pin", None)
        await agent_desk.save_pin(self.ctx, _raw(event))
        agent_desk.enter_home(self.ctx)

    def reject_pin_mismatch(self, event: EventData) -> None:
        self.ctx.data.pop("new_pin", None)
        self.ctx.session.error = self.ctx.t("The two PINs were different. Choose again.")

    def start_agent_sale(self, event: EventData) -> None:
        self.ctx.data["agent_sale"] = True

    def leave_agent_menu(self, event: EventData) -> None:
        self.ctx.data.pop("agent_sale", None)
        self.ctx.data.pop("home", None)

    def remember_buyer(self, event: EventData) -> None:
        country = str(self.ctx.data.get("country", self.ctx.default_country))
        self.ctx.data["buyer"] = normalize_phone(_raw(event), country)

    def reject_agent_sale(self, event: EventData) -> None:
        self.ctx.session.error = self._sale_refusal or self.ctx.t("Please try again.")

    def clear_verified(self, event: EventData) -> None:
        self.ctx.data.pop("agent_verified", None)

    def _pin_digest(self, pin: str) -> str:
        """The new PIN waits between two screens only as a digest tied to this session."""
        salt = f"{self.ctx.inbound.channel}:{self.ctx.inbound.session_key}"
        return hashlib.sha256(f"{salt}:{pin}".encode()).hexdigest()

    def remember_sold_out_tier(self, event: EventData) -> None:
        self.ctx.data["waitlist_tier"] = int(_value(event) or 0)
        self.ctx.data["waitlist_tier_name"] = self._tier.name if self._tier else ""

    def reject_offer_gone(self, event: EventData) -> None:
        self.ctx.data.pop("offer", None)
        self.ctx.session.error = self.ctx.t(
            "Your offer has ended. The place went to the next person."
        )

    def reject_waitlist(self, event: EventData) -> None:
        self.ctx.session.error = self._waitlist_refusal or self.ctx.t("Please try again.")

    def reject_code(self, event: EventData) -> None:
        self.ctx.session.error = self._code_refusal or self.ctx.t("Please try again.")

    def reject_transfer(self, event: EventData) -> None:
        self.ctx.session.error = self._transfer_refusal or self.ctx.t("Please try again.")

    def clear_gate_answer(self, event: EventData) -> None:
        self.ctx.data.pop("gate_last", None)

    def forget_gate(self, event: EventData) -> None:
        self.ctx.data.pop("gate", None)
        self.ctx.data.pop("gate_ok", None)
        self.ctx.session.error = self.ctx.t("This phone is no longer registered for a gate.")

    def reject_resend_too_soon(self, event: EventData) -> None:
        self.ctx.session.error = self.ctx.t("It was sent a few minutes ago. Please wait for it.")

    # -- checkout ---------------------------------------------------------------------------
    async def checkout(self, event: EventData) -> None:
        """Hold the places and record the payment request; the push follows the reply."""
        if _value(event) != "confirm":
            return
        ctx = self.ctx
        ctx.session.checkouts += 1
        key = f"{ctx.inbound.channel}:{ctx.inbound.session_key}:checkout:{ctx.session.checkouts}"
        if isinstance(ctx.data.get("order_id"), int):  # a place already held (an offer)
            await self._request_payment(ctx.number("order_id"), key)
            return
        try:
            async with ctx.db.transaction() as session:
                placed = await holds.place_hold(
                    session,
                    event_id=ctx.number("event_id"),
                    items=[holds.Item(ctx.number("tier_id"), ctx.number("quantity"))],
                    buyer_phone=ctx.inbound.address,
                    channel=ctx.inbound.channel,
                    language=ctx.session.language,
                    currency=str(ctx.data["currency"]),
                    idempotency_key=key,
                    reseller_code=_text(ctx.data.get("reseller_code")),
                    promo_code=_text(ctx.data.get("promo_code")),
                )
                if placed.total.minor == 0:  # a code made it free: no payment to ask for
                    await free_orders.fulfil(session, placed.order_id, actor="dialog")
        except SoldOut as error:
            self._sold_out(error.available)
            return
        except CoreError as error:
            if code_desk.is_code_error(error):
                self._failed(code_desk.refusal(ctx, error), error)
            else:
                self._failed(ctx.t("We could not hold your tickets."), error)
            return
        ctx.data["reference"] = placed.reference
        ctx.data["paid_minor"] = placed.total.minor
        if placed.total.minor == 0:
            self.checkout_result = "ok"
            return
        await self._request_payment(placed.order_id, key)

    async def _request_payment(self, order_id: int, key: str) -> None:
        ctx = self.ctx
        try:
            payment_id = await ctx.payments.begin(
                order_id=order_id,
                method=str(ctx.data["method"]),
                payer_phone=str(ctx.data["payer"]),
                idempotency_key=key,
            )
        except CoreError as error:
            async with ctx.db.transaction() as session:
                await orders.cancel(session, order_id, actor="dialog", reason=str(error))
            self._failed(ctx.t("Payment by this method is not available now."), error)
            return
        ctx.followups.append(Followup("push_payment", payment_id))
        self.checkout_result = "ok"

    def _sold_out(self, available: int) -> None:
        self.checkout_result = "sold_out"
        if available > 0:
            self.ctx.session.error = self.ctx.t("Sorry, only {left} left.", left=available)
        else:
            self.ctx.session.error = self.ctx.t("Sorry, that ticket is sold out.")

    def _failed(self, reason: str, error: Exception) -> None:
        logger.warning("checkout failed: %s", error)
        self.checkout_result = "failed"
        self.ctx.data["failure"] = reason
