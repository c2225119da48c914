"""The gate page in headless Chromium: online and offline check-ins, sync, the JS verifier."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import qrcode
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from tests.e2e.conftest import Live
from tests.factories import make_world
from tests.integration.test_gate import a_gate, qr, tampered
from tikiti.core import codes, gate, orders
from tikiti.core.db import Database
from tikiti.core.models import CheckIn, Ticket
from tikiti.core.offline import Bundle
from tikiti.core.signing import KeyBox

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PHONE = {"width": 390, "height": 740}


@asynccontextmanager
async def chromium(*extra: str) -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip("no browser: install Debian's chromium (apt-get install chromium)")
    async_api = pytest.importorskip("playwright.async_api")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*ARGS, *extra]
        )
        try:
            yield browser
        finally:
            await browser.close()


def picture(name: str, tmp_path: Path) -> Path:
    """docs/img/ gets a screenshot when it has none or TIKITI_UPDATE_SCREENSHOTS=1; runs
    otherwise write to tmp, so running the suite does not churn the committed pictures."""
    target = DOCS_IMG / name
    if os.environ.get("TIKITI_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path / name


async def open_gate(
    browser: Any, live: Live, token: str, *, typed: bool = False, **options: Any
) -> tuple[Any, Any, list[str]]:
    """The page on a phone-sized screen, given the token in the URL fragment or typed in."""
    context = await browser.new_context(
        viewport=PHONE, locale="en-GB", timezone_id="Africa/Harare", **options
    )
    page = await context.new_page()
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    page.on("pageerror", lambda error: said.append(f"pageerror: {error}"))
    if typed:
        await page.goto(f"{live.url}/admin/gate")
        await page.fill("#token-input", token)
        await page.click("#token-form button[type=submit]")
    else:
        await page.goto(f"{live.url}/admin/gate#token={token}")
        assert "token" not in page.url  # taken from the fragment, then dropped from the address
    await page.wait_for_selector("body[data-bundle=ready][data-net=online]")
    return context, page, said


async def scan(page: Any, text: str, *, shot: Path | None = None) -> dict[str, str]:
    """Type a code as gate staff do; returns what the full-screen answer said."""
    await page.fill("#code", text)
    await page.press("#code", "Enter")
    result = page.locator("#result")
    await result.wait_for(state="visible")
    if shot is not None:
        await page.screenshot(path=str(shot))
    seen = {
        "result": await result.get_attribute("data-result"),
        **{p: await page.text_content(f"#result-{p}") for p in ("title", "detail", "mode")},
    }
    await result.click()  # staff may tap it away before the two seconds are up
    await result.wait_for(state="hidden")
    return seen


async def admit_elsewhere(live: Live, token: str, code: str) -> str:
    """Another scanner, online, checks the ticket in; returns the server's result."""
    body = {"nonce": secrets.token_hex(8), "code": code}
    headers = {"Authorization": f"Bearer {token}"}
    response = await live.http.post(f"{live.url}/api/checkin", json=body, headers=headers)
    return str((await response.json())["result"])


async def ticket(db: Database, code: str) -> Ticket:
    async with db.session() as session:
        return (await session.scalars(select(Ticket).where(Ticket.code == code))).one()


async def test_the_page_and_its_scripts_are_served_from_the_app(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/admin/gate")
    assert response.status == 200 and "text/html" in response.headers["Content-Type"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'src="/admin/static/gate/app.js"' in await response.text()
    for name in ("app.js", "offline.js", "codes.js", "vendor/jsQR.min.js", "vendor/NOTICE"):
        response = await client.get(f"/admin/static/gate/{name}")
        assert response.status == 200, name
    assert (await client.get("/admin/static/gate/../gate_page.py")).status in (403, 404)


async def test_a_gate_admits_refuses_and_keeps_going_offline(
    live: Live, db: Database, keybox: KeyBox, tmp_path: Path
) -> None:
    world = await make_world(db, keybox, name="Harare Jazz Night")
    g = await a_gate(db, keybox, quantity=3, world=world)
    async with db.transaction() as session:
        token = await gate.issue_token(session, world.organizer_id, world.event_id, "B")
    async with chromium() as browser:
        context, page, said = await open_gate(browser, live, token, typed=True)

        first = codes.format_code(g.codes[0]).lower()
        green = await scan(page, first, shot=picture("gate-admitted.png", tmp_path))
        assert (green["result"], green["title"], green["mode"]) == ("admitted", "ADMITTED", "")
        red = await scan(page, g.codes[0], shot=picture("gate-refused.png", tmp_path))
        assert red["title"] == "ALREADY USED" and red["detail"].endswith("GATE B")
        assert (await ticket(db, g.codes[0])).checked_in_gate == "B"

        await context.set_offline(True)
        offline = await scan(page, g.codes[1], shot=picture("gate-offline-admitted.png", tmp_path))
        assert offline["title"] == "ADMITTED" and "OFFLINE" in offline["mode"]
        assert (await scan(page, g.codes[1]))["title"] == "ALREADY USED"  # remembered here
        assert (await scan(page, g.codes[0]))["detail"].endswith("GATE B")  # seen online
        assert (await scan(page, codes.new_code()))["result"] == "not_found"
        typo = g.codes[2][:3] + ("X" if g.codes[2][3] != "X" else "Y") + g.codes[2][4:]
        assert (await scan(page, typo))["result"] == "invalid_code"
        # Meanwhile gate A, still online, lets in the third ticket; this phone cannot know.
        assert await admit_elsewhere(live, g.token, g.codes[2]) == "admitted"
        assert (await scan(page, g.codes[2]))["result"] == "admitted"
        await page.wait_for_selector("#queue:has-text('2 scans waiting to sync')")
        await page.screenshot(path=str(picture("gate-offline.png", tmp_path)))
        assert (await ticket(db, g.codes[1])).checked_in_at is None
        assert await page.text_content("#count-in") == "3"
        assert await page.text_content("#count-out") == "5"

        await context.set_offline(False)
        await page.wait_for_selector("body[data-queue='0'][data-net=online]", timeout=20_000)
        assert await page.is_hidden("#queue")
        synced = await ticket(db, g.codes[1])
        assert synced.checked_in_gate == "B" and synced.checked_in_at is not None
        async with db.session() as session:
            logged = await session.scalars(select(CheckIn).where(CheckIn.ticket_id == synced.id))
            assert [c.result for c in logged] == ["admitted"]
        problem = await page.text_content("#problem-list")
        assert problem is not None and codes.format_code(g.codes[2]) in problem
        assert "gate A had already let it in" in problem
        await page.screenshot(path=str(picture("gate-conflict.png", tmp_path)))
        assert not [line for line in said if token in line or "pageerror" in line]
        await context.close()


async def test_the_offline_checks_agree_with_the_python_reference(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox, quantity=4)
    refunded = await a_gate(db, keybox, world=g.world)
    other = await a_gate(db, keybox)  # another event: its QR fails this event's key
    payloads = [await qr(db, keybox, ticket_id) for ticket_id in g.ticket_ids]
    async with db.transaction() as session:
        await orders.refund(session, refunded.order_id, actor="test", reason="test")
    await admit_elsewhere(live, g.token, g.codes[0])  # used before the bundle is made
    body = await (await live.http.get(
        f"{live.url}/api/gate/bundle", headers={"Authorization": f"Bearer {g.token}"}
    )).json()  # fmt: skip
    bundle = Bundle.from_json(body)
    typed = [*g.codes, codes.format_code(g.codes[1]).lower(), g.codes[2].replace("0", "o")]
    typed += [g.codes[3][:i] + c + g.codes[3][i + 1 :] for i in range(10) for c in "07KXZ"]
    typed += [codes.new_code() for _ in range(50)] + [other.codes[0], refunded.codes[0]]
    typed += ["", "ß-ﬁ 1lI", "7KQ2M"]
    scanned = [*payloads, payloads[1].lower(), tampered(payloads[2]), "TK1:AAAA", "hello"]
    scanned += [await qr(db, keybox, t) for t in (other.ticket_ids[0], refunded.ticket_ids[0])]
    scanned.append(payloads[3][:-1] + "7")  # padding bits set: not the canonical spelling

    async with chromium() as browser:
        context, page, _ = await open_gate(browser, live, g.token)
        results = await page.evaluate(
            """async ([raw, typed, scanned]) => {
                const offline = await import("/admin/static/gate/offline.js");
                const c = await import("/admin/static/gate/codes.js");
                const bundle = offline.prepare(raw), seen = offline.emptySeen(bundle.eventId);
                const decide = async (scan) => (await offline.decide(bundle, seen, scan)).result;
                return {
                    normal: typed.map(c.normalize),
                    codes: await Promise.all(typed.map((code) => decide({code}))),
                    qrs: await Promise.all(scanned.map((qr) => decide({qr}))),
                };
            }""",
            [body, typed, scanned],
        )
        await context.close()
    assert results["normal"] == [codes.normalize(text) for text in typed]

    def reference(text: str) -> str:  # what tikiti.core.offline.Bundle decides
        if not codes.is_valid(text):
            return "invalid_code"
        if not bundle.verify_code(text):
            return "not_found"
        return "already_used" if bundle.is_used_code(text) else "admitted"

    assert results["codes"] == [reference(text) for text in typed]
    accepted = [result in ("admitted", "already_used") for result in results["qrs"]]
    assert accepted == [bundle.verify_qr(text) is not None for text in scanned]
    bad = ["invalid_code"] * 4
    assert results["qrs"] == ["already_used", *["admitted"] * 4, *bad, "revoked", "invalid_code"]


def y4m(text: str, path: Path, width: int = 640, height: int = 480) -> Path:
    """A one-frame video of a QR code, which Chromium's fake camera shows over and over."""
    code = qrcode.QRCode(border=4)
    code.add_data(text)
    matrix = code.get_matrix()
    box = min(width, height) // len(matrix)
    left, top = (width - box * len(matrix)) // 2, (height - box * len(matrix)) // 2
    luma = bytearray(b"\xff" * (width * height))
    for y in range(box * len(matrix)):
        row = matrix[y // box]
        start = (top + y) * width + left
        luma[start : start + box * len(row)] = bytes(
            0 if row[x // box] else 255 for x in range(box * len(row))
        )
    chroma = b"\x80" * (width * height // 2)
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + bytes(luma) + chroma)
    return path


async def test_a_qr_held_up_to_the_camera_is_verified_and_admitted_offline(
    live: Live, db: Database, keybox: KeyBox, tmp_path: Path
) -> None:
    g = await a_gate(db, keybox)
    video = y4m(await qr(db, keybox, g.ticket_ids[0]), tmp_path / "ticket.y4m")
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    async with chromium(*fake, f"--use-file-for-fake-video-capture={video}") as browser:
        context, page, said = await open_gate(browser, live, g.token, permissions=["camera"])
        await context.set_offline(True)
        await page.click("#camera")
        result = page.locator("#result")
        await result.wait_for(state="visible", timeout=15_000)
        shown = await page.text_content("#result")
        assert await result.get_attribute("data-result") == "admitted", shown
        assert "OFFLINE" in (await page.text_content("#result-mode") or "")
        await result.wait_for(state="hidden")
        await page.wait_for_timeout(1500)  # the QR is still in view: not a second scan
        assert await page.text_content("#count-in") == "1"
        assert await page.get_attribute("body", "data-queue") == "1"
        await page.click("#camera-stop")
        assert (await ticket(db, g.codes[0])).checked_in_at is None
        await context.set_offline(False)
        await page.wait_for_selector("body[data-queue='0'][data-net=online]", timeout=20_000)
        assert (await ticket(db, g.codes[0])).checked_in_gate == "A"
        assert not [line for line in said if "pageerror" in line]
        await context.close()


async def test_a_page_reloaded_offline_still_opens_checks_and_keeps_its_queue(
    live: Live, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    async with chromium() as browser:
        context, page, said = await open_gate(browser, live, g.token)
        await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        await context.set_offline(True)
        await page.reload()  # e.g. the phone's browser discarded the tab in a dead zone
        await page.wait_for_selector("body[data-bundle=ready][data-net=offline]")
        offline = await scan(page, g.codes[0])
        assert offline["result"] == "admitted" and "OFFLINE" in offline["mode"]
        await page.reload()
        await page.wait_for_selector("#queue:has-text('1 scan waiting to sync')")
        assert (await scan(page, g.codes[0]))["result"] == "already_used"
        await context.set_offline(False)
        await page.wait_for_selector("body[data-queue='0'][data-net=online]", timeout=20_000)
        assert (await ticket(db, g.codes[0])).checked_in_gate == "A"
        assert not [line for line in said if "pageerror" in line]
        await context.close()
