"""The admin in headless Chromium on a phone-sized screen: sign in, dashboard, orders, team."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from tests.e2e.admin import PASSWORD, add_person
from tests.e2e.conftest import Live
from tests.e2e.test_gate_page import chromium, picture
from tests.factories import make_world
from tests.integration.test_reports import placed_at, sell
from tikiti.core import checkin
from tikiti.core.db import Database
from tikiti.core.models import Organizer, Role, User
from tikiti.core.signing import KeyBox

PHONE = {"width": 390, "height": 844}
NARROWEST = 360


async def a_busy_organizer(db: Database, keybox: KeyBox) -> tuple[Any, str, str]:
    """A fortnight of sales on several channels, two gates in use; returns (world, owner, ref)."""
    world = await make_world(db, keybox, name="Harare Jazz Night", price_minor=1500)
    async with db.transaction() as session:
        await session.execute(
            update(Organizer)
            .where(Organizer.id == world.organizer_id)
            .values(name="Harare Live Promotions")
        )
    owner, _ = await add_person(db, world.organizer_id, Role.OWNER, "harare-live", "Tendai Moyo")
    now = datetime.now(UTC)
    for days_ago, quantity, channel in [
        (12, 2, "ussd"), (9, 4, "sms"), (7, 1, "whatsapp"), (5, 6, "ussd"), (3, 3, "ussd"),
        (2, 2, "sms"), (1, 5, "whatsapp"),
    ]:  # fmt: skip
        order_id, _ = await sell(db, world, quantity, channel=channel)
        await placed_at(db, order_id, now - timedelta(days=days_ago))
    await sell(db, world, 2, currency="ZWG", channel="ussd")
    _, codes = await sell(db, world, 3, channel="ussd")
    async with db.transaction() as session:
        for code, gate in zip(codes, ("North", "North", "South"), strict=True):
            await checkin.check_in(session, event_id=world.event_id, code=code, gate=gate)
    return world, owner, codes[0]


async def fits(page: Any) -> bool:
    """Nothing wider than the screen: no sideways scrolling of the page itself."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    return bool(width <= page.viewport_size["width"])


async def test_an_owner_signs_in_sees_the_dashboard_and_adds_a_team_member(
    live: Live, db: Database, keybox: KeyBox, tmp_path: Path
) -> None:
    world, owner, ticket_code = await a_busy_organizer(db, keybox)
    new_email = f"rudo-{secrets.token_hex(3)}@harare-live.example"
    async with chromium() as browser:
        context = await browser.new_context(
            viewport=PHONE, locale="en-GB", timezone_id="Africa/Harare"
        )
        page = await context.new_page()
        said: list[str] = []
        page.on("console", lambda message: said.append(message.text))
        page.on("pageerror", lambda error: said.append(f"pageerror: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())

        await page.goto(f"{live.url}/admin/")
        assert page.url.endswith("/admin/login?next=/admin/")
        await page.fill("input[name=email]", owner)
        await page.fill("input[name=password]", "a wrong password")
        await page.click("button[type=submit]")
        await page.wait_for_selector(".error:has-text('Email or password is wrong.')")
        await page.screenshot(path=str(picture("admin-login.png", tmp_path)))
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form.stack button[type=submit]")
        await page.wait_for_selector("h1:has-text('Dashboard')")
        assert await page.text_content("[data-figure=tickets-total]") == "28"
        assert "Harare Live Promotions" in (await page.text_content(".org") or "")
        assert await page.locator(".chart rect.bar").count() == 14
        assert await fits(page)
        await page.screenshot(path=str(picture("admin-dashboard.png", tmp_path)), full_page=True)

        await sell(db, world, 2, channel="whatsapp")  # a sale while the page is open
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        await page.wait_for_selector("[data-figure=tickets-total]:text-is('30')")

        await page.click("nav.nav >> text=Orders")
        await page.fill("input[name=q]", ticket_code.lower())
        await page.press("input[name=q]", "Enter")
        await page.click("ul.orders a")
        await page.wait_for_selector("td:has-text('gate North')")
        await page.screenshot(path=str(picture("admin-order.png", tmp_path)), full_page=True)
        await page.click("text=← Orders")
        await page.wait_for_selector("ul.orders li >> nth=9")
        await page.screenshot(path=str(picture("admin-orders.png", tmp_path)))

        await page.click("nav.nav >> text=Team")
        await page.fill("input[name=email]", new_email)
        await page.fill("input[name=name]", "Rudo Chikore")
        await page.select_option("select[name=role]", "box_office")
        await page.fill("input[name=password]", "a first password")
        await page.click("text=Add to the team")
        await page.wait_for_selector("text=The new user can sign in now.")
        assert new_email in (await page.text_content("ul.people") or "")
        assert await fits(page)
        await page.screenshot(path=str(picture("admin-team.png", tmp_path)), full_page=True)

        await page.click("nav.nav >> text=Audit log")
        await page.wait_for_selector(".log li .what:text-is('user.added')")
        await page.screenshot(path=str(picture("admin-audit.png", tmp_path)))

        await page.set_viewport_size({"width": NARROWEST, "height": 740})
        for path in ("/", "/orders", "/team", "/audit", "/scanner", "/account"):
            await page.goto(f"{live.url}/admin{path}")
            assert await fits(page), path
        await page.set_viewport_size(PHONE)

        await page.screenshot(path=str(picture("admin-account.png", tmp_path)))
        await page.click(
            "button:has-text('Sign out everywhere')"
        )  # confirmed by the dialog handler
        await page.wait_for_selector("text=You are signed out on every device.")
        assert await fits(page)
        assert not [line for line in said if "pageerror" in line or "Content Security" in line]
        await context.close()
    async with db.session() as session:
        added = await session.scalar(select(User.role).where(User.email == new_email))
    assert added == Role.BOX_OFFICE
