"""`tikiti phone` against the whole app: scripted and typed sessions, prompts, failures."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp.test_utils import TestClient

from tests.e2e.conftest import Live, free_port, sandbox_account
from tests.e2e.test_ussd import settled
from tests.factories import make_world, phone
from tikiti import phone as simulator
from tikiti.core.db import Database
from tikiti.core.models import OrderStatus
from tikiti.core.signing import KeyBox

PURCHASE = ["1", "1", "1", "2", "1", "1", "1"]  # newest event, first tier, 2 places, EcoCash


def typed(lines: list[str]) -> Callable[[str], str]:
    """A person at the keyboard who types these lines, then presses Ctrl-D."""
    queue = list(lines)

    def ask(cue: str) -> str:
        if not queue:
            raise EOFError
        return queue.pop(0)

    return ask


def shown(out: list[str]) -> str:
    """What the display boxes said, rows joined back up as the wrapping found them."""
    rows = [line[2:-2].strip() for text in out for line in text.splitlines() if line[:1] == "|"]
    return " ".join(rows)


async def shop(db: Database, keybox: KeyBox, live: Live) -> None:
    world = await make_world(db, keybox, name="Phone Fest")
    await sandbox_account(db, keybox, world.organizer_id, live.url)


def options(
    url: str,
    msisdn: str,
    *,
    script: list[str] | None = None,
    pin: str | None = None,
    decline: bool = False,
) -> simulator.Options:
    return simulator.Options(url, msisdn, script=script, pin=pin, decline=decline, interval=0.1)


async def test_a_scripted_purchase_approved_with_a_pin_is_fulfilled(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live)
    out: list[str] = []
    buyer = phone(8100)
    code = await simulator.session(
        options(live.url, buyer, script=PURCHASE, pin="2580"), say=out.append
    )
    assert code == 0
    (order,) = await settled(db, buyer, OrderStatus.FULFILLED)
    assert order.status == OrderStatus.FULFILLED
    text = "\n".join(out)
    assert text.count("+- *384*1234# ") == 8 and text.count("Reply:") == 7
    assert "[session ended]" in text and "EcoCash: pay USD 20.00 to Tikiti?" in shown(out)
    assert "Approve the EcoCash prompt" in shown(out)
    assert "EcoCash: you paid USD 20.00 to Tikiti." in text
    assert "2580" not in text  # the PIN is not echoed
    boxed = [line for line in text.splitlines() if line.startswith(("+", "|"))]
    assert boxed and all(len(line) == simulator.WIDTH and line.isascii() for line in boxed)


async def test_a_scripted_decline_cancels_the_order(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live)
    out: list[str] = []
    buyer = phone(8200)
    session = options(live.url, buyer, script=PURCHASE, decline=True)
    assert await simulator.session(session, say=out.append) == 0
    (order,) = await settled(db, buyer, OrderStatus.CANCELLED)
    assert order.status == OrderStatus.CANCELLED
    assert "EcoCash: payment not made (declined by payer)." in out


async def test_typed_replies_and_a_typed_pin_buy_and_then_redial(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    await shop(db, keybox, live)
    out: list[str] = []
    buyer = phone(8300)
    # Enter alone sends nothing; a 3-digit PIN is asked again; Enter after the END dials again.
    keys = ["", *PURCHASE, "12", "1234", "", "r", "q", "never read"]
    code = await simulator.session(options(live.url, buyer), ask=typed(keys), say=out.append)
    assert code == 0
    (order,) = await settled(db, buyer, OrderStatus.FULFILLED)
    assert order.status == OrderStatus.FULFILLED
    text = "\n".join(out)
    assert text.count("+- *384*1234# ") == 10  # the purchase, then two fresh dials
    assert "The PIN is 4 digits" in text and "you paid USD 20.00" in text
    assert "Press Enter to dial again, or 'q' to quit." in text


async def test_an_unreachable_server_is_one_clear_line(db: Database) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out: list[str] = []
    assert await simulator.session(options(url, phone(8400), script=["1"]), say=out.append) == 1
    assert out[-1] == f"Cannot reach {url}: is the server running?"
    # Typed: Enter retries (failing again), then q quits; nothing else is printed.
    out.clear()
    await simulator.session(options(url, phone(8400)), ask=typed(["", "q"]), say=out.append)
    assert out.count(f"Cannot reach {url}: is the server running?") == 2
    assert not any("Traceback" in line for line in out)


async def test_a_server_error_status_is_one_clear_line(live: Live) -> None:
    out: list[str] = []
    session = options(live.url + "/nowhere", phone(8500), script=["1"])
    assert await simulator.session(session, say=out.append) == 1
    assert out[-1].startswith("The server answered HTTP 404")


async def test_a_server_without_the_sandbox_is_dialled_quietly(
    client: TestClient[object, object],
) -> None:
    url = str(client.make_url("")).rstrip("/")
    out: list[str] = []
    assert await simulator.session(options(url, phone(8600), script=["1"]), say=out.append) == 0
    text = "\n".join(out)
    assert text.count("+- *384*1234# ") == 2
    assert "HTTP" not in text and "prompt" not in text.lower()


def test_bad_arguments_are_refused_before_dialling() -> None:
    out: list[str] = []
    assert simulator.run("127.0.0.1:8080", "+263771000001", "*384#", say=out.append) == 2
    assert simulator.run("http://x", "+263771000001", "*384#", pin="12", say=out.append) == 2
    assert out == [
        "tikiti phone: --url must start with http:// or https://",
        "tikiti phone: --pin must be 4 digits",
    ]
