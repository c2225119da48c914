"""The gate staff's side of the menu: the PIN, then one ticket code after another.

Answers are short and in capitals, as a steward reads them at arm's length in the sun:
VALID / ALREADY USED 19:02 GATE B / NOT FOUND.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tikiti.core import gate_staff, pins
from tikiti.core.callers import Caller
from tikiti.core.checkin import Result
from tikiti.dialogs.context import Ctx
from tikiti.dialogs.machine import State
from tikiti.dialogs.session import Session


def start(session: Session, caller: Caller) -> None:
    """A registered phone opens on its gate, straight at the codes if its PIN is still fresh."""
    post = caller.post
    if post is None:
        return
    session.data["gate"] = {
        "staff_id": post.staff_id,
        "event_name": post.event_name,
        "gate": post.gate,
        "timezone": post.timezone,
    }
    session.data["gate_ok"] = post.trusted
    session.state = State.GATE_CODE.value if post.trusted else State.GATE_PIN.value
    session.stack = [State.HOME.value]


def post(ctx: Ctx) -> dict[str, object]:
    found = ctx.data.get("gate")
    if not isinstance(found, dict):
        raise LookupError("the conversation has no gate post")
    return found


async def try_pin(ctx: Ctx, pin: str) -> pins.Attempt | None:
    """None for input that is not a PIN at all: a slip of the keypad costs no try."""
    if not pins.looks_like_pin(pin):
        return None
    async with ctx.db.transaction() as session:
        attempt = await gate_staff.try_pin(session, int(str(post(ctx)["staff_id"])), pin, ctx.now)
    if attempt.ok:
        ctx.data["gate_ok"] = True
        ctx.data.pop("gate_last", None)
    return attempt


def pin_refusal(ctx: Ctx, attempt: pins.Attempt | None) -> str:
    if attempt is None:
        return ctx.t("Enter your PIN: digits only.")
    if attempt.locked_until is not None:
        zone = ZoneInfo(str(post(ctx)["timezone"]))
        until = attempt.locked_until.astimezone(zone).strftime("%H:%M")
        return ctx.t("Too many wrong PINs. Try again after {time}.", time=until)
    return ctx.t("Wrong PIN. {left} tries left.", left=attempt.tries_left)


async def check_code(ctx: Ctx, code: str) -> bool:
    async with ctx.db.transaction() as session:
        checked = await gate_staff.check(session, int(str(post(ctx)["staff_id"])), code, ctx.now)
    if checked is None:
        return False
    ctx.data["gate_last"] = answer(ctx, checked)
    return True


def answer(ctx: Ctx, checked: gate_staff.Checked) -> str:
    scan = checked.scan
    zone = ZoneInfo(checked.timezone)
    match scan.result:
        case Result.ADMITTED:
            place = f"{checked.tier} {checked.seat}" if checked.seat else checked.tier
            return ctx.t("VALID: {place}. Let in.", place=place)
        case Result.ALREADY_USED:
            at = scan.checked_in_at.astimezone(zone).strftime("%H:%M") if scan.checked_in_at else ""
            return ctx.t("ALREADY USED {time} GATE {gate}", time=at, gate=scan.gate or "?")
        case Result.WRONG_EVENT:
            return ctx.t("WRONG EVENT: this ticket is for another event.")
        case Result.REFUNDED | Result.CANCELLED:
            return ctx.t("NOT VALID: this ticket was refunded or cancelled.")
        case Result.NOT_YET_VALID:
            opens = checked.admit_from.astimezone(zone) if checked.admit_from else None
            when = opens.strftime("%d %b %H:%M") if opens else ""
            return ctx.t("NOT YET: gates admit from {time}.", time=when)
        case Result.INVALID_CODE:
            return ctx.t("NOT A TICKET CODE. Check the letters and try again.")
    return ctx.t("NOT FOUND. Check the code and try again.")
