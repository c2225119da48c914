"""Running one step of a conversation: load, lock, advance the machine, render, save."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from tikiti.core import callers
from tikiti.core.catalog import EventSummary
from tikiti.core.db import Database
from tikiti.core.ports import PaymentGateway
from tikiti.core.store import Busy, Store, StoreUnavailable
from tikiti.dialogs import agent_desk, gate_desk, keywords, paging
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.i18n import DEFAULT, LANGUAGES, translate
from tikiti.dialogs.machine import END_STATES, State, build_machine
from tikiti.dialogs.screens import SCREENS as BUYER_SCREENS
from tikiti.dialogs.session import Session
from tikiti.dialogs.staff_screens import STAFF_SCREENS
from tikiti.dialogs.steps import Conversation
from tikiti.dialogs.types import Inbound, Limits, Option, Reply

logger = logging.getLogger(__name__)
SESSION_TTL = {"ussd": 180.0}
CHAT_TTL = 1800.0
BACK, HOME, MORE = "0", "00", "98"

_machine = build_machine()
SCREENS = {**BUYER_SCREENS, **STAFF_SCREENS}  # every state's screen, buyer's and staff's
_INPUT = _machine.events["input"]  # the machine's one trigger, fired on each step's own model


class Engine:
    def __init__(
        self,
        db: Database,
        store: Store,
        payments: PaymentGateway,
        *,
        default_country: str = "ZW",
        listing_ttl: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.store = store
        self.payments = payments
        self.default_country = default_country
        self.clock = clock
        self.listing_ttl = listing_ttl
        self.listing: dict[str, tuple[float, list[EventSummary]]] = {}

    async def handle(self, inbound: Inbound, limits: Limits) -> Reply:
        """Never raises for the buyer's sake: a broken dependency becomes a 'try again' screen."""
        key = f"dialog:{inbound.channel}:{inbound.session_key}"
        try:
            async with self.store.session(key, f"{inbound.channel}:{inbound.address}") as (
                raw,
                save,
            ):
                session, fresh = await self._load(inbound, None if inbound.new_session else raw)
                reply = await self._step(inbound, limits, session, fresh)
                save(session.dumps(), SESSION_TTL.get(inbound.channel, CHAT_TTL))
                return reply
        except (StoreUnavailable, Busy, SQLAlchemyError, OSError) as error:
            logger.warning("dialog unavailable for %s: %s", inbound.channel, error)
            return _busy()
        except Exception:
            # A bug must not show a buyer a stack trace or leave the gateway without an answer.
            logger.exception("dialog step failed for %s", inbound.channel)
            return _busy()

    async def _load(self, inbound: Inbound, raw: bytes | None) -> tuple[Session, bool]:
        if raw is not None:
            try:
                return Session.loads(raw), False
            except (ValueError, TypeError, KeyError):
                logger.warning("discarding an unreadable dialog session")
        async with self.db.read() as connection:
            found = await callers.caller(connection, inbound.address, self.clock())
        language = found.language
        session = Session(language=language if language in LANGUAGES else DEFAULT)
        gate_desk.start(session, found)
        agent_desk.start(session, found)
        if found.has_offer:
            session.data["offer"] = True
        return session, True

    async def _step(self, inbound: Inbound, limits: Limits, session: Session, fresh: bool) -> Reply:
        if inbound.dedupe_key and session.last_key == inbound.dedupe_key and session.last_reply:
            # a resent request: the same answer, and no second step
            return replace(_reply_from(session.last_reply), language=session.language)
        ctx = Ctx(
            session, inbound, self.db, self.payments, self.clock(), self.default_country,
            listing=self.listing, listing_ttl=self.listing_ttl,
        )  # fmt: skip
        command = keywords.parse(inbound.text) if inbound.chat else None
        if command is not None:
            await keywords.apply(ctx, command)
        elif _stale(inbound, session):
            session.error = ctx.t("That menu has changed. Please choose again.")
        elif not fresh:
            await self._advance(ctx, inbound.text.strip())
        reply = await self._render(ctx, limits)
        reply = replace(reply, screen=_fingerprint(session.state, reply))
        session.last_key = inbound.dedupe_key
        session.last_reply = {
            "text": reply.text,
            "options": [{"key": o.key, "label": o.label} for o in reply.options],
            "navigation": reply.navigation,
            "end": reply.end,
            "screen": reply.screen,
        }
        return reply

    async def _advance(self, ctx: Ctx, token: str) -> None:
        session = ctx.session
        session.error = ""
        home = str(session.data.get("home", State.HOME.value))  # an agent's is their menu
        if session.state in END_STATES or token == HOME:
            session.state, session.stack, session.page = home, [], 0
            session.data.pop("agent_sale", None)  # a sale starts again from "Sell tickets"
        elif token == BACK:
            session.state = session.stack.pop() if session.stack else home
            session.page = 0
        elif token == MORE and session.more:
            session.page += 1
        else:
            await self._input(ctx, token)

    async def _input(self, ctx: Ctx, token: str) -> None:
        session = ctx.session
        before = session.state
        model = Conversation(ctx)
        model.state = before
        await _INPUT.trigger(model, value=session.options.get(token), raw=token)
        after = model.state
        if after == before:
            return
        session.page = 0
        if after in (State.HOME.value, State.AGENT_HOME.value):
            session.stack = []
        elif after == State.GATE_CODE.value:
            session.stack = [State.HOME.value]  # back from the codes is the menu, not the PIN
        elif before == State.CONFIRM.value and after == State.TIERS.value:
            session.stack = [
                State.HOME.value,
                State.EVENTS.value,
            ]  # sold out meanwhile: choose again
        else:
            session.stack.append(before)
        session.state = after

    async def _render(self, ctx: Ctx, limits: Limits) -> Reply:
        session = ctx.session
        screen = await SCREENS[session.state](ctx)
        body = screen.text
        text = f"{session.error}\n{body}" if session.error else body
        navigation = ctx.t("0 Back 00 Home") if screen.navigation else ""
        more = ctx.t("98 More")
        if limits.gsm7:
            text, navigation, more = paging.gsm7(text), paging.gsm7(navigation), paging.gsm7(more)
            body, session.error = paging.gsm7(body), paging.gsm7(session.error)
        labels = [paging.gsm7(label) if limits.gsm7 else label for _, label in screen.options]
        pages = paging.paginate(text, labels, navigation, more, limits.body)
        session.page = min(session.page, len(pages) - 1)
        shown = pages[session.page]
        session.more = session.page < len(pages) - 1
        session.options = {str(n + 1): screen.options[i][0] for n, i in enumerate(shown)}
        nav = f"{navigation} {more}".strip() if session.more else navigation
        options = tuple(Option(str(n + 1), labels[i]) for n, i in enumerate(shown))
        room = limits.body - len(Reply("", options, nav).as_text()) - 1
        return Reply(
            _fit(session.error, body, room),
            options,
            nav,
            screen.end,
            tuple(ctx.followups),
            session.language,
        )


def _fit(error: str, body: str, room: int) -> str:
    """The screen's own text matters more than the reason line above it: cut the reason first."""
    if not error:
        return paging.fit_text(body, room)
    if len(error) + 1 + len(body) <= room:
        return f"{error}\n{body}"
    space = room - len(body) - 1
    if space >= 12:
        return f"{paging.fit_text(error, space)}\n{body}"
    return paging.fit_text(body, room)


def _busy() -> Reply:
    text = translate(DEFAULT, "Sorry, the service is busy. Please try again in a minute.")
    return Reply(text, end=True)


def _reply_from(saved: dict[str, Any]) -> Reply:
    options = tuple(Option(str(o["key"]), str(o["label"])) for o in saved.get("options", ()))
    return Reply(
        str(saved["text"]),
        options,
        str(saved.get("navigation", "")),
        bool(saved.get("end")),
        screen=str(saved.get("screen", "")),
    )


def _fingerprint(state: str, reply: Reply) -> str:
    return hashlib.blake2s(f"{state}\n{reply.as_text()}".encode(), digest_size=4).hexdigest()


def _stale(inbound: Inbound, session: Session) -> bool:
    """A button from an older message: its screen is not the one the session shows now."""
    if inbound.screen is None or session.last_reply is None:
        return False
    return inbound.screen != session.last_reply.get("screen")
